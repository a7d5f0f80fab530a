"""`evaluate` module: set precision, recall and F1 of fact tracing (macro over queries and micro).

Load it offline from the installed package:

```python
import evaluate
from hf_datavalue.fasttrack.metrics import metric_path

metric = evaluate.load(metric_path("fact_tracing_set"))
metric.compute(predictions=[[1, 2], []], references=[[2], [5]])
# {'macro_precision': 0.25, 'macro_recall': 0.5, 'macro_f1': 0.333..., 'micro_precision': 0.5, ...}
```
"""

import datasets
import evaluate

from hf_datavalue.fasttrack.evaluation.metrics import set_metrics

_DESCRIPTION = """Set-level precision, recall and F1 of the training examples returned for each query against its
annotated proponents (FastTrack protocol). An empty returned set scores 0. Macro = mean over queries (primary),
micro = pooled counts (secondary)."""

_KWARGS = """
Args:
    predictions (`list[list[int]]`): per query, the returned example ids (a set; order ignored).
    references (`list[list[int]]`): per query, the proponent ids.
Returns:
    macro_precision, macro_recall, macro_f1, micro_precision, micro_recall, micro_f1, mean_returned, n_queries.
"""

_CITATION = """@inproceedings{chen2024fasttrack, title={FASTTRACK: Reliable Fact Tracing via Clustering and
LLM-Powered Evidence Validation}, author={Chen, Si and Kang, Feiyang and Yu, Ning and Jia, Ruoxi},
booktitle={Findings of EMNLP}, year={2024}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class FactTracingSet(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("int64")),
                    "references": datasets.Sequence(datasets.Value("int64")),
                }
            ),
        )

    def _compute(self, predictions, references):
        return set_metrics([set(p) for p in predictions], [set(r) for r in references])
