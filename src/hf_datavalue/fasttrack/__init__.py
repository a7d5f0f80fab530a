"""FastTrack: fact tracing by recursive clustering, keyword retrieval and batched verification.

Chen, Kang, Yu, Jia, Findings of EMNLP 2024 (arXiv:2404.15157). No public code exists: every prompt, threshold
and model choice here is the library's own and is recorded in provenance (`specs/fasttrack.md`,
`docs/fasttrack.md`). A returned pair (`verified = True`) means the verifier judged that the training row states
the query fact.

Usage:

```python
from hf_datavalue.fasttrack import FastTrackConfig, FastTrackIndex, FastTrackTracer, build_verifier

index = FastTrackIndex.build(corpus, FastTrackConfig(), embedder=minilm_path, output_dir="index")
result = FastTrackTracer(index, corpus, build_verifier("cross-encoder:verifier")).trace(queries, output_dir="out")
```
"""

from ..core.registry import MethodSpec, register_method
from .cache import ResponseCache
from .clustering import ClusterTree, recursive_kmeans
from .config import FastTrackConfig
from .index import FastTrackIndex
from .keywords import Keyworder, LLMKeyworder, TfidfKeyworder
from .matching import KeywordMatcher
from .result import SCORE_COLUMN, SCORE_SEMANTICS, FastTrackResult
from .tracer import FastTrackTracer, TraceInterruptedError, trace_facts
from .verifiers import Verifier, VerifierStats, build_verifier

__all__ = [
    "SCORE_COLUMN",
    "SCORE_SEMANTICS",
    "ClusterTree",
    "FastTrackConfig",
    "FastTrackIndex",
    "FastTrackResult",
    "FastTrackTracer",
    "KeywordMatcher",
    "Keyworder",
    "LLMKeyworder",
    "ResponseCache",
    "TfidfKeyworder",
    "TraceInterruptedError",
    "Verifier",
    "VerifierStats",
    "build_verifier",
    "recursive_kmeans",
    "trace_facts",
]

register_method(
    MethodSpec(
        name="fasttrack",
        config_class=FastTrackConfig,
        entry_point=FastTrackTracer,
        result_class=FastTrackResult,
        score_column=SCORE_COLUMN,
        score_semantics=SCORE_SEMANTICS,
        card_title="FastTrack (Chen et al., Findings of EMNLP 2024)",
        card_note=(
            "whether a verifier judged that the training row explicitly states the traced query fact, among the "
            "members of the clusters retrieved for that query. The verifier is named in the provenance (a trained "
            "cross-encoder or an LLM); rows of non-retrieved clusters were never checked"
        ),
        module=__name__,
        hub_config="fasttrack_traces",
        cli_command="trace",
        exports=("FastTrackConfig", "FastTrackIndex", "FastTrackResult", "FastTrackTracer", "trace_facts"),
    )
)
