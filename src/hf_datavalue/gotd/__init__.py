"""GOT-D: optimal-transport-gradient selection of pre-fine-tuning data (Kang et al., ICLR 2024).

Usage:

```python
from hf_datavalue.gotd import GotdConfig, GotdSelector

selector = GotdSelector(GotdConfig(k=1000, embedder="sentence-transformers/all-MiniLM-L6-v2")).fit(pool, target)
warmup = pool.filter(selector, with_indices=True, batched=True)
selector.result.save("outputs/gotd/run1")  # a GotdResult: provenance, to_dataset(), save/load
```

Under `accelerate launch` the same call shards the pool's embedding and scoring across the processes
(`hf_datavalue.gotd.pipeline`).
"""

from ..core.registry import MethodSpec, register_method
from .config import GotdConfig
from .result import GotdResult
from .scoring import gotd_scores
from .selector import GotdSelector, select

__all__ = ["GotdConfig", "GotdResult", "GotdSelector", "gotd_scores", "select"]

register_method(
    MethodSpec(
        name="gotd",
        config_class=GotdConfig,
        entry_point=GotdSelector,
        result_class=GotdResult,
        score_column="gotd_score",
        score_semantics="lower = select first",
        card_title="GOT-D (Kang et al., ICLR 2024)",
        card_note=(
            "a gradient of the optimal-transport distance from the candidate pool to the target; rows with the "
            "lowest scores are selected first"
        ),
        module=__name__,
        cli_command="select",
        exports=("GotdConfig", "GotdResult", "GotdSelector"),
    )
)
