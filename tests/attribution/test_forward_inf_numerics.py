"""Forward-INF numerics: bf16 models, JVP mode on stock (SDPA) transformers models, score semantics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from hf_datavalue.attribution import ForwardInfConfig, forward_inf_scores
from hf_datavalue.core.errors import ConfigError

from .helpers import tiny_bert, tiny_gpt2, token_dataset


def _median_spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.median([spearmanr(a[:, j], b[:, j]).statistic for j in range(a.shape[1])]))


def _bf16_pair(seed: int = 0):
    """A bf16 model and an fp32 model holding exactly the same (bf16-representable) weights."""
    model = tiny_bert(seed=seed)
    with torch.no_grad():  # make the head matter: small random weights give near-constant losses
        model.classifier.weight.mul_(8.0)
    bf16 = model.to(torch.bfloat16).eval()
    fp32 = tiny_bert(seed=seed)
    fp32.load_state_dict({k: v.float() for k, v in bf16.state_dict().items()})
    return bf16, fp32.eval()


@pytest.mark.parametrize("mode", ["per_query", "jvp"])
def test_bf16_model_scores_like_fp32_with_the_same_weights(mode):
    bf16, fp32 = _bf16_pair()
    before = {k: v.clone() for k, v in bf16.state_dict().items()}
    train, test = token_dataset(24), token_dataset(2, seed=1)
    cfg = ForwardInfConfig(lr=1e-3, mode=mode, batch_size=24)
    ref = forward_inf_scores(fp32, train, test, cfg).scores
    res = forward_inf_scores(bf16, train, test, cfg)
    # The float32 copy computes exactly what the fp32 model computes.
    np.testing.assert_allclose(res.scores, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
    assert res.extra["compute_dtype"] == "float32 copy"
    assert all(torch.equal(before[k], v) for k, v in bf16.state_dict().items())  # the live model is untouched
    assert next(bf16.parameters()).dtype == torch.bfloat16
    if mode == "per_query":  # the old behaviour, kept as compute_dtype="model", is what the default fixes
        lossy = forward_inf_scores(
            bf16, train, test, ForwardInfConfig.from_dict({**cfg.to_dict(), "compute_dtype": "model"})
        )
        assert np.abs(lossy.scores - ref).max() > 0.05 * np.abs(ref).max()
        assert lossy.extra["compute_dtype"] == "bfloat16"
    with pytest.raises(ConfigError, match="compute_dtype"):
        ForwardInfConfig(compute_dtype="float16")


@pytest.mark.parametrize("build", [tiny_bert, tiny_gpt2], ids=["bert", "gpt2"])
def test_jvp_runs_on_stock_sdpa_models_and_matches_one_step(build):
    model = build()
    assert model.config._attn_implementation == "sdpa"  # built with default settings
    if build is tiny_gpt2:
        train = token_dataset(16, text=False).remove_columns("labels")
        train = train.map(lambda r: {"labels": r["input_ids"]})
        test = train.select(range(2))
    else:
        train, test = token_dataset(16), token_dataset(2, seed=1)
    lr = 1e-4
    step = forward_inf_scores(model, train, test, ForwardInfConfig(lr=lr, batch_size=16)).scores / lr
    jvp = forward_inf_scores(model, train, test, ForwardInfConfig(lr=lr, mode="jvp", batch_size=16)).scores
    assert _median_spearman(jvp, step) >= 0.9
    np.testing.assert_allclose(jvp, step, rtol=0.05, atol=0.05 * np.abs(jvp).max())
    # the attention kernel choice is restored after the sweep
    assert torch.backends.cuda.flash_sdp_enabled() and torch.backends.cuda.math_sdp_enabled()


def test_semantics_of_unsigned_group_mode_is_no_harm_ranking():
    signed = ForwardInfConfig(mode="group").semantics()
    unsigned = ForwardInfConfig(mode="group", signed=False).semantics()
    assert "harm = -score ranks" in signed
    assert "harm = -score ranks" not in unsigned and "not a mislabel ranking" in unsigned
    assert "|Δloss|" in unsigned
    assert "lr -> 0" in ForwardInfConfig(mode="jvp", signed=False).semantics()


def test_unsigned_group_scores_do_not_rank_harm_like_signed_ones():
    """|Δloss| puts rows whose loss fell (proponents) next to rows whose loss rose: -|Δ| is not -Δ's ranking."""
    model = tiny_bert()
    train, test = token_dataset(30), token_dataset(4, seed=1)
    signed = forward_inf_scores(model, train, test, ForwardInfConfig(mode="group", lr=1e-2)).scores[:, 0]
    unsigned = forward_inf_scores(model, train, test, ForwardInfConfig(mode="group", lr=1e-2, signed=False))
    np.testing.assert_allclose(unsigned.scores[:, 0], np.abs(signed))
    assert (signed > 0).any() and (signed < 0).any()
    assert spearmanr(-unsigned.scores[:, 0], -signed).statistic < 0.9
    assert "harm = -score ranks" not in unsigned.score_semantics
