"""`evaluate` module: MRR, precision@k and recall@k of ranked candidate lists (FTRACE protocol).

```python
import evaluate
from hf_datavalue.fasttrack.metrics import metric_path

metric = evaluate.load(metric_path("fact_tracing_ranking"))
metric.compute(predictions=[[3, 2, 9]], references=[[2]], ks=[1, 3])  # {'mrr': 0.5, 'precision@1': 0.0, ...}
```
"""

import datasets
import evaluate

from hf_datavalue.fasttrack.evaluation.metrics import DEFAULT_KS, ranking_metrics

_DESCRIPTION = """Mean reciprocal rank of the first proponent, and mean precision@k / recall@k, of candidate lists
reranked by an attribution method (Akyurek et al., 2022). A query whose list holds no proponent contributes 0."""

_KWARGS = """
Args:
    predictions (`list[list[int]]`): per query, candidate ids ranked best first.
    references (`list[list[int]]`): per query, the proponent ids.
    ks (`list[int]`, *optional*, defaults to [1, 3, 5, 10, 25]): cut-offs.
Returns:
    mrr, precision@k and recall@k for every k.
"""

_CITATION = """@inproceedings{akyurek2022tracing, title={Towards Tracing Knowledge in Language Models Back to the
Training Data}, author={Aky{\\"u}rek, Ekin and others}, booktitle={Findings of EMNLP}, year={2022}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class FactTracingRanking(evaluate.Metric):
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

    def _compute(self, predictions, references, ks=DEFAULT_KS):
        return ranking_metrics([list(p) for p in predictions], [set(r) for r in references], ks=ks)
