"""The fact-tracing evaluation harness: data loading, splits, candidate sets, metrics, baselines, reports."""

from .baselines import BM25Ranker, EmbeddingRanker, apply_cutoff, oracle_best_k, tune_cutoff
from .candidates import build_candidate_sets
from .data import LAMA_TREX_LICENSE, dataset_statistics, load_lama_trex, proponent_rows
from .metrics import DEFAULT_KS, ranking_metrics, set_metrics, set_prf
from .report import stagewise_report
from .splits import relation_split, stratified_dev_split

__all__ = [
    "DEFAULT_KS",
    "LAMA_TREX_LICENSE",
    "BM25Ranker",
    "EmbeddingRanker",
    "apply_cutoff",
    "build_candidate_sets",
    "dataset_statistics",
    "load_lama_trex",
    "oracle_best_k",
    "proponent_rows",
    "ranking_metrics",
    "relation_split",
    "set_metrics",
    "set_prf",
    "stagewise_report",
    "stratified_dev_split",
    "tune_cutoff",
]
