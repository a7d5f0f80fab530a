"""Forward-INF and baselines on transformers / peft / plain modules: API, sign conventions, isolation, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from datasets import Dataset

from hf_datavalue.attribution import (
    AttributionResult,
    ForwardInfConfig,
    GradDotConfig,
    SelfLossConfig,
    forward_inf_scores,
    grad_dot_scores,
    self_loss_scores,
)
from hf_datavalue.core.errors import (
    ConfigError,
    EmptyDatasetError,
    MissingColumnError,
    NonFiniteError,
    OutputExistsError,
)
from hf_datavalue.core.gradients import HFPerExampleLoss, per_example_loss

from .helpers import tiny_bert, tiny_gpt2, token_dataset


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class SmallNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = torch.nn.Linear(32, 16)
        self.bn = torch.nn.BatchNorm1d(16)
        self.drop = torch.nn.Dropout(0.5)
        self.fc = torch.nn.Linear(16, 3)

    def forward(self, x):
        return self.fc(self.drop(torch.relu(self.bn(self.inp(x)))))


def cnn_loss(model, batch):
    return torch.nn.functional.cross_entropy(model(batch["x"]), batch["y"], reduction="none")


def cnn_rows(n: int, seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 32, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    return [{"x": x[i], "y": int(y[i])} for i in range(n)]


def test_config_json_round_trip(tmp_path):
    cfg = ForwardInfConfig(lr=5e-3, optimizer="adam", direction="ascent", signed=False, params=["classifier.*"])
    cfg.to_json_file(tmp_path / "c.json")
    assert ForwardInfConfig.from_json_file(tmp_path / "c.json") == cfg
    assert json.loads(cfg.to_json_string())["optimizer"] == "adam"
    assert GradDotConfig.from_dict(GradDotConfig(mode="group").to_dict()) == GradDotConfig(mode="group")
    assert SelfLossConfig.from_dict(SelfLossConfig().to_dict()) == SelfLossConfig()


@pytest.mark.parametrize(
    "kwargs",
    [{"lr": 0.0}, {"lr": float("nan")}, {"steps": 0}, {"optimizer": "lbfgs"}, {"direction": "up"}, {"mode": "x"},
     {"mode": "jvp", "steps": 2}, {"task": "vision"}, {"batch_size": 0}],
)  # fmt: skip
def test_bad_config_values(kwargs):
    with pytest.raises(ConfigError):
        ForwardInfConfig(**kwargs)


def test_sign_conventions_and_isolation_on_a_batchnorm_net():
    torch.manual_seed(0)
    model = SmallNet()
    model.train()  # scoring must switch to eval and come back
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.1, 0.1)
    train = cnn_rows(30)
    query = [dict(train[7])]  # a training point identical to the query
    before = snapshot(model)
    desc = forward_inf_scores(model, train, query, ForwardInfConfig(lr=1e-2), loss_fn=cnn_loss)
    asc = forward_inf_scores(model, train, query, ForwardInfConfig(lr=1e-2, direction="ascent"), loss_fn=cnn_loss)
    absol = forward_inf_scores(model, train, query, ForwardInfConfig(lr=1e-2, signed=False), loss_fn=cnn_loss)
    assert same(before, snapshot(model)) and model.training and model.bn.training
    assert all(p.grad is None for p in model.parameters())
    assert int(np.argmax(desc.scores[:, 0])) == 7 and desc.scores[7, 0] > 0
    assert int(np.argmax(asc.scores[:, 0])) == 7 and asc.scores[7, 0] > 0
    np.testing.assert_allclose(absol.scores, np.abs(desc.scores))
    np.testing.assert_allclose(desc.scores[:, 0], desc.base_loss - desc.new_loss[:, 0])


def test_adam_multi_step_and_groups_shapes():
    torch.manual_seed(0)
    model = SmallNet()
    train, test = cnn_rows(20), cnn_rows(6, seed=1)
    cfg = ForwardInfConfig(lr=5e-3, optimizer="adam", steps=3, mode="group")
    res = forward_inf_scores(model, train, test, cfg, loss_fn=cnn_loss, query_groups={"a": [0, 1, 2], "b": [3, 4]})
    assert res.scores.shape == (20, 2) and res.query_ids == ["a", "b"]
    per_q = forward_inf_scores(model, train, test, ForwardInfConfig(query_chunk_size=4), loss_fn=cnn_loss)
    assert per_q.scores.shape == (20, 6) and per_q.query_ids == [str(i) for i in range(6)]


def test_sequence_classification_matches_hf_loss_and_baselines_run(tmp_path):
    model = tiny_bert()
    train, test = token_dataset(21), token_dataset(3, seed=1)
    batch = {k: torch.tensor(train[:4][k]) for k in ("input_ids", "attention_mask", "labels")}
    model.eval()
    ours = per_example_loss(model, batch)
    with torch.no_grad():
        ref = model(**batch).loss
    torch.testing.assert_close(ours.mean(), ref)
    res = forward_inf_scores(model, train, test, ForwardInfConfig(batch_size=8))
    assert res.scores.shape == (21, 3) and np.array_equal(res.row_idx, np.arange(21))
    sl = self_loss_scores(model, train)
    gd = grad_dot_scores(model, train, test, GradDotConfig(mode="group", params=["classifier.*"]))
    assert sl.scores.shape == (21, 1) and gd.scores.shape == (21, 1)
    path = res.save(tmp_path / "run")
    loaded = AttributionResult.load(path)
    np.testing.assert_array_equal(loaded.scores, res.scores)
    assert loaded.query_ids == res.query_ids
    assert (path / "scores.parquet").exists() and (path / "top_k.parquet").exists()
    assert not list(path.glob("*.pkl"))
    with pytest.raises(OutputExistsError):
        res.save(path)  # no silent overwrite
    with pytest.raises(OutputExistsError):
        sl.save(path)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_causal_lm_token_loss(reduction):
    model = tiny_gpt2()
    ds = token_dataset(6, text=False).remove_columns("labels")
    ds = ds.map(lambda r: {"labels": [-100, -100] + r["input_ids"][2:]})
    batch = {k: torch.tensor(ds[:3][k]) for k in ("input_ids", "attention_mask", "labels")}
    model.eval()
    ours = per_example_loss(model, batch, hf_loss=HFPerExampleLoss(token_reduction=reduction))
    with torch.no_grad():
        per_row = [model(**{k: v[i : i + 1] for k, v in batch.items()}).loss for i in range(3)]
    expected = torch.stack(per_row) * (6 if reduction == "sum" else 1)  # 6 predicted label tokens per row
    torch.testing.assert_close(ours, expected)
    res = forward_inf_scores(model, ds, ds.select(range(2)), ForwardInfConfig(token_reduction=reduction))
    assert res.scores.shape == (6, 2) and res.scores[0, 0] > 0


def test_peft_lora_moves_only_adapter_weights():
    peft = pytest.importorskip("peft")
    base = tiny_bert()
    model = peft.get_peft_model(base, peft.LoraConfig(r=2, target_modules=["query", "value"], lora_alpha=4))
    before = snapshot(model)
    train, test = token_dataset(12), token_dataset(2, seed=1)
    res = forward_inf_scores(model, train, test, ForwardInfConfig(lr=1e-2))
    names = res.extra["updated_param_names"]
    assert names and all("lora_" in n for n in names)
    n_lora = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    assert res.extra["n_updated_params"] == n_lora < sum(p.numel() for p in model.parameters()) / 10
    assert same(before, snapshot(model))
    assert np.isfinite(res.scores).all() and np.abs(res.scores).max() > 0


# -- bad input ---------------------------------------------------------------------------------------------------


def test_test_set_without_labels():
    model = tiny_bert()
    with pytest.raises(MissingColumnError, match="test dataset.*labels"):
        forward_inf_scores(model, token_dataset(8), token_dataset(2, with_labels=False))


def test_model_that_cannot_compute_a_loss():
    from transformers import BertConfig, BertModel

    headless = BertModel(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                    intermediate_size=32, max_position_embeddings=32))  # fmt: skip
    with pytest.raises(ConfigError, match="no logits"):
        forward_inf_scores(headless, token_dataset(8), token_dataset(2))
    frozen = tiny_bert().requires_grad_(False)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        forward_inf_scores(frozen, token_dataset(8), token_dataset(2))
    with pytest.raises(ConfigError, match="loss_fn"):
        forward_inf_scores(SmallNet(), cnn_rows(4), cnn_rows(1))


def test_train_set_without_model_columns_and_empty_sets():
    model = tiny_bert()
    train = token_dataset(8).remove_columns("input_ids")
    with pytest.raises(MissingColumnError, match="train dataset has no column 'input_ids'"):
        forward_inf_scores(model, train, token_dataset(2))
    with pytest.raises(EmptyDatasetError):
        forward_inf_scores(model, token_dataset(8), token_dataset(2).select([]))


def test_nan_scores_are_detected_and_not_written(tmp_path):
    torch.manual_seed(0)
    model = SmallNet()
    with pytest.raises(NonFiniteError, match="lr"):
        forward_inf_scores(model, cnn_rows(8), cnn_rows(1), ForwardInfConfig(lr=1e38, steps=5), loss_fn=cnn_loss)
    bad = AttributionResult("forward_inf", np.array([[np.nan]]), np.array([0]), ["0"], "positive = proponent")
    with pytest.raises(NonFiniteError):
        bad.save(tmp_path / "nan")
    assert not (tmp_path / "nan").exists()


def test_datasets_row_idx_column_is_the_row_key():
    model = tiny_bert()
    train = token_dataset(10).add_column("row_idx", list(range(100, 110)))
    res = self_loss_scores(model, train)
    assert res.row_idx.tolist() == list(range(100, 110))
    dup = token_dataset(3).add_column("row_idx", [1, 1, 2])
    with pytest.raises(ValueError, match="duplicated"):
        self_loss_scores(model, dup)


def test_string_columns_are_dropped_by_the_public_route():
    ds = Dataset.from_dict({"input_ids": [[1, 2, 3]] * 4, "labels": [0, 1, 0, 1], "text": ["a"] * 4})
    res = self_loss_scores(tiny_bert(), ds)
    assert res.n_train == 4


def test_per_example_gradients_vmap_matches_the_loop_and_falls_back():
    from hf_datavalue.core.gradients import per_example_gradients, select_parameters

    torch.manual_seed(0)
    net = SmallNet().eval()
    rows = cnn_rows(5)
    batch = {"x": torch.stack([r["x"] for r in rows]), "y": torch.tensor([r["y"] for r in rows])}
    params = select_parameters(net)
    fast = per_example_gradients(net, params, batch, loss_fn=cnn_loss)
    slow = per_example_gradients(net, params, batch, loss_fn=cnn_loss, vectorize=False)
    torch.testing.assert_close(fast, slow)
    bert = tiny_bert().eval()  # BERT's forward cannot be vmapped: the loop takes over
    tb = {k: torch.tensor(token_dataset(3)[k]) for k in ("input_ids", "attention_mask", "labels")}
    grads = per_example_gradients(bert, select_parameters(bert, ["classifier.*"]), tb)
    assert grads.shape == (3, 16 * 2 + 2)


def test_masked_lm_token_loss_matches_the_model():
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=32, max_position_embeddings=32)).eval()  # fmt: skip
    ids = torch.tensor(token_dataset(2, text=False)["input_ids"])
    labels = torch.full_like(ids, -100)
    labels[:, [1, 4]] = ids[:, [1, 4]]
    batch = {"input_ids": ids, "labels": labels}
    ours = per_example_loss(model, batch)
    with torch.no_grad():
        ref = torch.stack([model(input_ids=ids[i : i + 1], labels=labels[i : i + 1]).loss for i in range(2)])
    torch.testing.assert_close(ours, ref)
