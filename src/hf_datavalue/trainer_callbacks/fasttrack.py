"""[`FastTrackCallback`]: build the FastTrack index of a `Trainer`'s training set and trace facts from the run."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from ..core.errors import ConfigError, EmptyDatasetError, MissingColumnError
from ..core.io import write_parquet_atomic

logger = logging.getLogger(__name__)

__all__ = ["FastTrackCallback"]

EVENTS = ("train_end", "evaluate")


class FastTrackCallback(TrainerCallback):
    """Trace facts back to the training rows that state them, from inside a `Trainer` run.

    At `on_train_begin` the callback builds the FastTrack index of the training set's text column (or loads the
    one already in `index_dir`). At train end and/or on every evaluation it traces the given `statements`, or the
    model's own greedy completions of the given `prompts`, and writes the traces (`traces.parquet`,
    `candidates.parquet`, `query_stats.parquet`, `stats.json`, `meta.json`; plus `queries.parquet` with the
    traced statements) under `<output_dir>/fasttrack/<event>-step<global_step>/`. FastTrack needs no gradients:
    the model is only read (and only when `prompts` are given), so training is unchanged by the callback.

    A `row_idx` in the traces is the row position in the training set the index was built from. Verifier
    answers are cached in `<output_dir>/fasttrack/responses.jsonl`, so tracing the same statements again (the
    next evaluation) makes no new verifier calls.

    Under `accelerate launch`, every process embeds a contiguous shard of the training set (gathered into the
    index folder's embedding cache); the main process then clusters, keywords, loads the verifier and traces,
    while the other processes wait at a barrier (completions of `prompts` are generated on every process, so that sharded
    models make the same collective calls). Only the main process writes, and only it holds `results`.

    Args:
        statements (`datasets.Dataset` or `Sequence[str]`, *optional*): the facts to trace: a queries table with
            `config.query_column` (and optionally `query_id`, subject/answer columns, `proponent_doc_ids` for the
            oracle), or plain sentences.
        prompts (`Sequence[str]`, *optional*): instead of `statements`, prompts the model completes greedily;
            the traced statement is the prompt plus the first line of its completion.
        verifier ([`~hf_datavalue.fasttrack.Verifier`] or `str`, *optional*, defaults to `"oracle"`): a verifier
            or a spec (`"oracle"`, `"cross-encoder:DIR"`, `"causal-lm:PATH"`, `"openai:URL#MODEL"`), built lazily
            on the main process. The oracle reads `proponent_doc_ids` of `statements` (ids in `doc_id_column`
            of the training set, or row positions when the training set has no such column).
        config ([`~hf_datavalue.fasttrack.FastTrackConfig`], *optional*): index and tracer settings (text and
            query columns, tau, thresholds, batch size B); default `FastTrackConfig()`.
        embedder (`str` or `Embedder`, *optional*): the sentence embedder of the index (default
            `config.embedder`).
        keyworder ([`~hf_datavalue.fasttrack.Keyworder`], *optional*): default the config's offline keyworder.
        train_dataset (`datasets.Dataset`, *optional*): the rows to index; default the trainer's training set
            (which must still hold the text column).
        index_dir (`str`, *optional*): where the index is built (and resumed, or loaded when complete); default
            `<output_dir>/fasttrack/index`.
        trace_on (`Sequence[str]`, *optional*, defaults to `("train_end",)`): `"train_end"` and/or `"evaluate"`.
        output_dir (`str`, *optional*): root of the result folders; default `args.output_dir`.
        doc_id_column (`str`, *optional*, defaults to `"doc_id"`): the training-set id column the oracle maps
            proponent ids through.
        max_new_tokens (`int`, *optional*, defaults to `32`): completion budget for `prompts`.
        tokenizer (`PreTrainedTokenizerBase`, *optional*): for `prompts`; default the trainer's processing class.
        verifier_kwargs (`dict`, *optional*): keyword arguments of the verifier built from a spec string.
        trainer ([`~transformers.Trainer`], *optional*): to log summaries through `trainer.log`.
        overwrite (`bool`, *optional*, defaults to `False`): replace results already in a result folder.
        progress (`bool`, *optional*, defaults to `False`): progress bars of index building and tracing.

    Usage:

    ```python
    from hf_datavalue.fasttrack import FastTrackConfig
    from hf_datavalue.trainer_callbacks import FastTrackCallback

    trainer = Trainer(model=model, args=args, train_dataset=train_ds)  # train_ds keeps its "text" column
    trainer.add_callback(
        FastTrackCallback(queries, verifier="cross-encoder:outputs/verifier", config=FastTrackConfig(tau=100),
                          embedder=minilm_path)
    )
    trainer.train()  # traces in args.output_dir/fasttrack/train_end-step<N>/traces.parquet
    ```
    """

    method = "fasttrack"

    def __init__(
        self,
        statements: Any = None,
        *,
        prompts: Sequence[str] | None = None,
        verifier: Any = "oracle",
        config: Any = None,
        embedder: Any = None,
        keyworder: Any = None,
        train_dataset: Any = None,
        index_dir: str | os.PathLike[str] | None = None,
        trace_on: Sequence[str] | str = ("train_end",),
        output_dir: str | None = None,
        doc_id_column: str | None = "doc_id",
        max_new_tokens: int = 32,
        tokenizer: Any = None,
        verifier_kwargs: Mapping[str, Any] | None = None,
        trainer: Any = None,
        overwrite: bool = False,
        progress: bool = False,
    ):
        from ..fasttrack import FastTrackConfig

        if (statements is None) == (prompts is None):
            raise ConfigError("FastTrackCallback needs exactly one of statements= (facts) or prompts= (to complete)")
        if prompts is not None and (isinstance(prompts, str) or not len(prompts)):
            raise ConfigError("prompts must be a non-empty sequence of strings")
        if statements is not None and len(statements) == 0:
            raise EmptyDatasetError("no statements to trace")
        if isinstance(trace_on, str):
            trace_on = (trace_on,)
        unknown = [e for e in trace_on if e not in EVENTS]
        if unknown or not trace_on:
            raise ConfigError(f"trace_on must be a non-empty subset of {EVENTS}, got {list(trace_on)}")
        if int(max_new_tokens) < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens!r}")
        self.config = config if config is not None else FastTrackConfig()
        columns = getattr(statements, "column_names", None)
        if columns is not None and self.config.query_column not in columns:
            raise MissingColumnError("statements", self.config.query_column, statements.column_names)
        if verifier == "oracle" and "truth" not in (verifier_kwargs or {}):
            has_truth = statements is not None and "proponent_doc_ids" in getattr(statements, "column_names", ())
            if not has_truth:
                raise ConfigError(
                    "the oracle verifier reads ground truth: give statements as a Dataset with 'proponent_doc_ids', "
                    "pass verifier_kwargs={'truth': {statement: proponent texts}}, or choose another verifier"
                )
        self.statements = statements
        self.prompts = list(prompts) if prompts is not None else None
        self.verifier = verifier
        self.embedder = embedder
        self.keyworder = keyworder
        self.train_dataset = train_dataset
        self.index_dir = index_dir
        self.trace_on = tuple(trace_on)
        self.output_dir = output_dir
        self.doc_id_column = doc_id_column
        self.max_new_tokens = int(max_new_tokens)
        self.tokenizer = tokenizer
        self.verifier_kwargs = dict(verifier_kwargs or {})
        self.trainer = trainer
        self.overwrite = overwrite
        self.progress = progress
        self.index: Any = None
        self.corpus: Any = None
        self.results: list[tuple[str, int, Any]] = []
        self.written: list[Path] = []
        self.embedded_rows = 0
        self._verifier_obj: Any = None
        self._cache: Any = None

    def attach(self, trainer: Any) -> FastTrackCallback:
        """Register on `trainer` and keep its handle; returns `self`."""
        self.trainer = trainer
        trainer.add_callback(self)
        return self

    # -- helpers ------------------------------------------------------------------------------------------------
    @staticmethod
    def _state() -> Any:
        from accelerate import PartialState

        return PartialState()

    def _root(self, args: TrainingArguments) -> Path:
        return Path(self.output_dir or args.output_dir or ".") / self.method

    def _index_dir(self, args: TrainingArguments) -> Path:
        return Path(self.index_dir) if self.index_dir is not None else self._root(args) / "index"

    def _resolve_train(self, kwargs: Mapping[str, Any]) -> Any:
        if self.train_dataset is not None:
            return self.train_dataset
        if self.trainer is not None and getattr(self.trainer, "train_dataset", None) is not None:
            return self.trainer.train_dataset
        loader = kwargs.get("train_dataloader")
        dataset = getattr(loader, "dataset", None)
        if dataset is not None and hasattr(dataset, "column_names"):
            return dataset
        raise ConfigError("FastTrackCallback: no training set to index; pass train_dataset= or trainer=")

    def _build_index(self, args: TrainingArguments, kwargs: Mapping[str, Any]) -> None:
        from ..fasttrack import FastTrackIndex

        corpus = self._resolve_train(kwargs)
        column = self.config.text_column
        if column not in corpus.column_names:
            raise MissingColumnError(
                "the training set (keep the raw text next to the tokens, or pass train_dataset=)",
                column,
                corpus.column_names,
            )
        index_dir = self._index_dir(args)
        self.index = FastTrackIndex.build(
            corpus,
            self.config,
            embedder=self.embedder,
            keyworder=self.keyworder,
            output_dir=index_dir,
            progress=self.progress,
        )
        self.corpus = corpus
        logger.info(
            "fasttrack: index of %d rows in %d clusters at %s", self.index.n_rows, self.index.n_clusters, index_dir
        )

    def _queries(self, model: Any, kwargs: Mapping[str, Any]) -> Any:
        from datasets import Dataset

        cfg = self.config
        if self.prompts is None:
            if isinstance(self.statements, Sequence) and not hasattr(self.statements, "column_names"):
                texts = [str(s) for s in self.statements]
                return Dataset.from_dict(
                    {cfg.query_id_column: [f"q{i}" for i in range(len(texts))], cfg.query_column: texts}
                )
            return self.statements
        completions = self._complete(model, kwargs)
        statements = [f"{p}{c}".strip() for p, c in zip(self.prompts, completions)]
        return Dataset.from_dict(
            {
                cfg.query_id_column: [f"prompt-{i}" for i in range(len(self.prompts))],
                "prompt": self.prompts,
                "completion": completions,
                cfg.query_column: statements,
            }
        )

    def _complete(self, model: Any, kwargs: Mapping[str, Any]) -> list[str]:
        """Greedy completions of the prompts (first line), without touching the training state."""
        import torch

        tok = self.tokenizer or kwargs.get("processing_class") or getattr(self.trainer, "processing_class", None)
        if tok is None or not hasattr(tok, "decode"):
            raise ConfigError("completing prompts needs a tokenizer: pass tokenizer= or give the trainer one")
        if model is None or not hasattr(model, "generate"):
            raise ConfigError("completing prompts needs a generative model (with .generate)")
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        out: list[str] = []
        try:
            with torch.no_grad():
                for prompt in self.prompts or []:
                    enc = tok(prompt, return_tensors="pt").to(device)
                    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
                    ids = model.generate(
                        **enc, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1, pad_token_id=pad
                    )
                    text = tok.decode(ids[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
                    out.append(text.split("\n", 1)[0])
        finally:
            model.train(was_training)
        return out

    def _get_verifier(self, queries: Any) -> Any:
        from ..fasttrack import Verifier, build_verifier
        from ..fasttrack.verifiers.oracle import OracleVerifier

        if isinstance(self.verifier, Verifier):
            return self.verifier
        if self.verifier == "oracle" and "truth" not in self.verifier_kwargs:
            doc_ids = self.doc_id_column if self.doc_id_column in self.corpus.column_names else None
            return OracleVerifier.from_queries(
                queries,
                self.corpus,
                text_column=self.config.text_column,
                statement_column=self.config.query_column,
                doc_id_column=doc_ids,
            )
        if self._verifier_obj is None:
            self._verifier_obj = build_verifier(str(self.verifier), **self.verifier_kwargs)
        return self._verifier_obj

    # -- events -------------------------------------------------------------------------------------------------
    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        dist = self._state()
        if self.index is None and dist.num_processes > 1 and self.config.embedding_column is None:
            self._embed_sharded(args, kwargs, dist)
        if dist.is_main_process and self.index is None:
            self._build_index(args, kwargs)
        dist.wait_for_everyone()
        return control

    def _embed_sharded(self, args: TrainingArguments, kwargs: Mapping[str, Any], dist: Any) -> None:
        """Every process embeds a contiguous shard of the corpus; the main process stores the gathered matrix
        as the index folder's embedding cache (`embeddings.npy`), which the index build then reuses."""
        import io

        import numpy as np
        from accelerate.utils import broadcast_object_list

        from ..core.distributed import contiguous_ranges, process_context
        from ..core.io import write_bytes_atomic
        from ..fasttrack.index import embed_texts

        index_dir = self._index_dir(args)
        decision: list[bool | None] = [None]
        if dist.is_main_process:  # one process decides, so every process makes the same collective calls
            done = (index_dir / "index_meta.json").is_file() or (index_dir / "embeddings.npy").is_file()
            decision = [not done]
        if not broadcast_object_list(decision)[0]:
            return
        corpus = self._resolve_train(kwargs)
        if self.config.text_column not in corpus.column_names:
            raise MissingColumnError("the training set", self.config.text_column, corpus.column_names)
        # the core's sharded embedding: each process embeds one batch-aligned slice, all get the whole matrix
        ctx = process_context()
        start, stop = contiguous_ranges(len(corpus), ctx.world, align=self.config.embed_batch_size)[ctx.rank]
        self.embedded_rows = stop - start
        x = embed_texts([str(t) for t in corpus[self.config.text_column]], self.config, self.embedder, sharded=True)
        if dist.is_main_process:
            buf = io.BytesIO()
            np.save(buf, x.astype(np.float32))
            write_bytes_atomic(index_dir / "embeddings.npy", buf.getvalue())
            logger.info("fasttrack: embedded %d rows on %d processes", len(x), dist.num_processes)

    def on_evaluate(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        if "evaluate" in self.trace_on:
            self._trace("evaluate", args, state, kwargs)
        return control

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        if "train_end" in self.trace_on:
            self._trace("train_end", args, state, kwargs)
        return control

    def _trace(self, event: str, args: TrainingArguments, state: TrainerState, kwargs: dict[str, Any]) -> None:
        from ..fasttrack import FastTrackTracer, ResponseCache

        dist = self._state()
        model = kwargs.get("model") or getattr(self.trainer, "model", None)
        if self.prompts is not None and model is not None and getattr(self.trainer, "accelerator", None) is not None:
            model = self.trainer.accelerator.unwrap_model(model)
        queries = self._queries(model, kwargs)  # every process: generation may need collectives
        if dist.is_main_process:
            if self.index is None:  # evaluate before train: build now
                self._build_index(args, kwargs)
            step = int(state.global_step)
            root = self._root(args)
            if self._cache is None:
                self._cache = ResponseCache(root / "responses.jsonl")
            verifier = self._get_verifier(queries)
            tracer = FastTrackTracer(
                self.index,
                self.corpus,
                verifier,
                self.config,
                keyworder=self.keyworder,
                embedder=self.embedder,
                cache=self._cache,
                progress=self.progress,
            )
            out = root / f"{event}-step{step}"
            result = tracer.trace(queries, output_dir=out, overwrite=self.overwrite)
            write_parquet_atomic(out / "queries.parquet", queries.with_format("arrow")[:])
            self.results.append((event, step, result))
            self.written.append(out)
            summary = self.summary(result)
            logger.info("fasttrack at %s (step %d): %s -> %s", event, step, summary, out)
            if self.trainer is not None and hasattr(self.trainer, "log"):
                self.trainer.log(summary)
        dist.wait_for_everyone()

    def summary(self, result: Any) -> dict[str, float]:
        """The numbers logged after each trace."""
        stats = result.stats()
        return {
            "fasttrack/n_queries": float(stats["n_queries"]),
            "fasttrack/traced_pairs": float(stats["n_traced_pairs"]),
            "fasttrack/candidates_per_query": float(stats["n_candidates_per_query"]),
            "fasttrack/calls_per_query": float(stats["calls_per_query"]),
            "fasttrack/seconds_per_query": float(stats["seconds_per_query"]),
        }
