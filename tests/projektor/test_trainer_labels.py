"""The Trainer-based label learner on a tiny BERT built from a config (real Trainer, real quota sampler)."""

from __future__ import annotations

import numpy as np


def test_trainer_learner_labels_a_mixture(tmp_path):
    from datasets import Dataset
    from transformers import BertConfig, BertForSequenceClassification, TrainingArguments

    from hf_datavalue.projektor.labels import PerformanceLabels
    from hf_datavalue.trainer_callbacks.projektor_labels import trainer_learner

    rng = np.random.default_rng(0)

    def make(n, classes):
        labels = rng.choice(classes, size=n)
        ids = [[1, 5 + int(c), 5 + int(c), 2] for c in labels]
        return Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * 4] * n, "labels": labels.tolist()})

    sources = [make(40, [0]), make(40, [1]), make(40, [0, 1])]
    valid = make(30, [0, 1])
    cfg = BertConfig(vocab_size=16, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=8, num_labels=2)  # fmt: skip
    args = TrainingArguments(str(tmp_path / "out"), num_train_epochs=1, per_device_train_batch_size=8,
                             report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True)  # fmt: skip
    learner = trainer_learner(lambda: BertForSequenceClassification(cfg), sources, valid, args)
    rows = PerformanceLabels([40, 40, 40], learner, tmp_path / "labels").run([[0.5, 0.5, 0.0]], sizes=[24])
    assert len(rows) == 1 and 0 <= rows[0]["accuracy"] <= 100 and np.isfinite(rows[0]["log_loss"])
    assert abs(rows[0]["loss"] - (1 - rows[0]["accuracy"] / 100)) < 1e-12
