"""GOT-D: optimal-transport-gradient selection of pre-fine-tuning data (Kang et al., ICLR 2024).

Usage:

```python
from hf_datavalue.gotd import GotdConfig, GotdSelector

selector = GotdSelector(GotdConfig(k=1000, embedder="sentence-transformers/all-MiniLM-L6-v2")).fit(pool, target)
warmup = pool.filter(selector, with_indices=True, batched=True)
```
"""

from .config import GotdConfig
from .scoring import gotd_scores
from .selector import GotdSelector, select

__all__ = ["GotdConfig", "GotdSelector", "gotd_scores", "select"]
