"""The cross-encoder back-end on a tiny sequence classifier built from a config (real transformers objects)."""

from __future__ import annotations

import json

import pytest

from hf_datavalue.core.errors import ConfigError
from hf_datavalue.fasttrack import FastTrackConfig, FastTrackIndex, FastTrackTracer, build_verifier
from hf_datavalue.fasttrack.verifiers.cross_encoder import VERIFIER_CONFIG, CrossEncoderVerifier

from .helpers import tiny_cross_encoder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_cross_encoder(tmp_path_factory.mktemp("ce"))


def test_scores_decisions_tokens_and_truncation(model_dir):
    v = build_verifier(f"cross-encoder:{model_dir}", max_length=24, batch_size=2)
    assert isinstance(v, CrossEncoderVerifier)
    passages = ["Nunn was born in Glasgow.", "word " * 60, "He died in 2010.", "Another long one " * 20]
    probs = v.scores("Steve Nunn was born in Glasgow .", passages)
    assert probs.shape == (4,) and ((probs >= 0) & (probs <= 1)).all()
    v.threshold = float(sorted(probs)[1])
    decisions = v.verify("Steve Nunn was born in Glasgow .", passages)
    assert decisions == [bool(p >= v.threshold) for p in probs] and sum(decisions) == 3
    assert v.stats.truncated == 4  # two long passages, scored twice
    assert v.stats.calls == 2 and v.stats.prompt_tokens > 0
    assert v.describe()["model"] == model_dir and v.describe()["max_length"] == 24


def test_threshold_read_from_verifier_config(model_dir, tmp_path):
    import shutil

    folder = tmp_path / "v"
    shutil.copytree(model_dir, folder)
    (folder / VERIFIER_CONFIG).write_text(json.dumps({"threshold": 0.0, "max_length": 32}))
    v = CrossEncoderVerifier(str(folder))
    assert v.threshold == 0.0 and v.max_length == 32
    assert v.verify("a", ["b", "c"]) == [True, True]
    with pytest.raises(ConfigError):
        CrossEncoderVerifier(str(folder), threshold=1.5)
    with pytest.raises(ConfigError, match="config.json"):
        CrossEncoderVerifier(str(tmp_path))


def test_cross_encoder_in_the_tracer(model_dir, lama_slice):
    corpus, queries = lama_slice
    cfg = FastTrackConfig(embedding_column="bow", tau=25, kmeans_backend="faiss", max_clusters=2)
    index = FastTrackIndex.build(corpus, cfg, progress=False)
    v = build_verifier(f"cross-encoder:{model_dir}")
    res = FastTrackTracer(index, corpus, v, progress=False).trace(queries.select(range(4)))
    st = res.query_stats.to_pydict()
    assert sum(st["calls"]) == sum(st["batches"]) > 0 and sum(st["prompt_tokens"]) > 0
    assert res.provenance.extra["verifier"]["name"] == "cross-encoder"
