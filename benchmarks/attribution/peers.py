"""Peer rows of the mislabel benchmark: captum TracInCP and dattri TracIn on the same model, weights and features.

Runs in its own venv (.bench-venvs/peers: torch 2.13 CPU, captum, dattri). One checkpoint (the final weights),
the same 30 clean queries as the per-test hf_datavalue rows; harm = -mean influence over the queries. captum's
self-influence (a classic TracIn mislabel detector) is reported too.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, WORK, auroc, load_task, write_rows  # noqa: E402

N_PER_TEST = 30
BATCH = 256


def captum_rows(task: str) -> list[dict]:
    from captum.influence import TracInCP

    model, d = load_task(task)
    ckpt = str(WORK / task / "model.safetensors")

    def load(m: torch.nn.Module, path: str) -> float:
        from safetensors.torch import load_file

        m.load_state_dict(load_file(path))
        return 1.0

    train = torch.utils.data.TensorDataset(torch.from_numpy(d["x_train"]), torch.from_numpy(d["y_train"]).long())
    xq = torch.from_numpy(d["x_query"][:N_PER_TEST])
    yq = torch.from_numpy(d["y_query"][:N_PER_TEST]).long()
    rows = []
    t0 = time.perf_counter()
    tracin = TracInCP(model, train, checkpoints=[ckpt], checkpoints_load_func=load,
                      loss_fn=torch.nn.CrossEntropyLoss(reduction="sum"), batch_size=BATCH,
                      sample_wise_grads_per_batch=True)  # fmt: skip
    scores = tracin.influence((xq, yq)).detach().numpy().T  # (n_train, n_queries)
    rows.append({"method": "captum TracInCP (1 checkpoint, 30 queries)", "auroc": auroc(d["flipped"], -scores.mean(1)),
                 "seconds": time.perf_counter() - t0})  # fmt: skip
    t0 = time.perf_counter()
    self_inf = tracin.self_influence().detach().numpy()
    rows.append({"method": "captum TracInCP self-influence", "auroc": auroc(d["flipped"], self_inf),
                 "seconds": time.perf_counter() - t0})  # fmt: skip
    return rows


def dattri_rows(task: str) -> list[dict]:
    from dattri.algorithm.tracin import TracInAttributor
    from dattri.task import AttributionTask
    from safetensors.torch import load_file

    model, d = load_task(task)

    def loss_func(params, data):
        x, y = data
        out = torch.func.functional_call(model, params, x.unsqueeze(0))
        return torch.nn.functional.cross_entropy(out, y.unsqueeze(0))

    t0 = time.perf_counter()
    att_task = AttributionTask(loss_func=loss_func, model=model,
                               checkpoints=[load_file(str(WORK / task / "model.safetensors"))])  # fmt: skip
    attributor = TracInAttributor(task=att_task, weight_list=torch.ones(1), normalized_grad=False, device="cpu")
    train = torch.utils.data.TensorDataset(torch.from_numpy(d["x_train"]), torch.from_numpy(d["y_train"]).long())
    test = torch.utils.data.TensorDataset(torch.from_numpy(d["x_query"][:N_PER_TEST]),
                                          torch.from_numpy(d["y_query"][:N_PER_TEST]).long())  # fmt: skip
    scores = attributor.attribute(
        torch.utils.data.DataLoader(train, batch_size=BATCH, shuffle=False),
        torch.utils.data.DataLoader(test, batch_size=BATCH, shuffle=False),
    ).numpy()  # (n_train, n_queries)
    return [{"method": "dattri TracIn (1 checkpoint, 512-dim projection default, 30 queries)",
             "auroc": auroc(d["flipped"], -scores.mean(1)), "seconds": time.perf_counter() - t0}]  # fmt: skip


if __name__ == "__main__":
    torch.set_num_threads(2)
    tasks = sys.argv[1:] or ["sst2_minilm", "cifar10_cnn"]
    for t in tasks:
        rows = []
        for lib, fn in (("captum", captum_rows), ("dattri", dattri_rows)):
            try:
                got = fn(t)
            except Exception as err:  # record a peer that does not run, do not hide it
                got = [
                    {"method": f"{lib} (failed: {type(err).__name__}: {err})", "auroc": float("nan"), "seconds": 0.0}
                ]
            for r in got:
                r.update({"task": t, "library": lib})
                print(r, flush=True)
            rows += got
        write_rows(RESULTS / f"{t}_peers.json", rows)
