"""The stabilised Sinkhorn kernel (Schmitzer 2019, "absorption") used by dense-mode iterations."""

from __future__ import annotations

import math

import torch

__all__ = ["StabilisedKernel"]

# A stabilised kernel is rebuilt once the scalings exp((f - f_abs) / eps) leave [e^-30, e^30]: far from float32
# overflow, and entries that underflowed when the kernel was built stay negligible.
_ABSORB_LOG_BOUND = 30.0


class StabilisedKernel:
    """`K_ij = exp((f~_i + g~_j - C_ij) / eps)` for absorbed potentials `(f~, g~)`, held in one dense buffer.

    With scalings `u = exp((f - f~) / eps)`, `v = exp((g - g~) / eps)` the plan is `a_i b_j u_i K_ij v_j`, so a
    Sinkhorn iteration is `u = 1 / (K (b v))`, `v = 1 / (K^T (a u))`: two matrix-vector products. The class
    speaks potentials on both ends so the solver's loop (errors, momentum, annealing) is shared with the log
    domain.
    """

    def __init__(self, cost: torch.Tensor, a: torch.Tensor, b: torch.Tensor, blocks: list[tuple[int, int]]):
        self.cost, self.a, self.b, self.blocks = cost, a, b, blocks
        self.matrix: torch.Tensor | None = None
        self.f_abs = torch.zeros_like(a)
        self.g_abs = torch.zeros_like(b)
        self.eps = math.nan
        self.n_builds = 0

    def usable(self, f: torch.Tensor, g: torch.Tensor, eps: float) -> bool:
        if self.matrix is None or eps != self.eps:
            return False
        drift = max(float((f - self.f_abs).abs().max()), float((g - self.g_abs).abs().max())) / eps
        return drift <= _ABSORB_LOG_BOUND

    def build(self, f: torch.Tensor, g: torch.Tensor, eps: float) -> None:
        if self.matrix is None:
            self.matrix = torch.empty_like(self.cost)
        self.f_abs, self.g_abs, self.eps = f.clone(), g.clone(), eps
        g_term = g / eps
        for s, t in self.blocks:  # block-wise so the only N x M allocation is the kernel itself
            block = self.matrix[s:t]
            torch.mul(self.cost[s:t], -1.0 / eps, out=block)
            block.add_(g_term[None, :]).add_((f[s:t] / eps)[:, None]).exp_()
        self.n_builds += 1

    def step(
        self, f: torch.Tensor, g: torch.Tensor, omega: float
    ) -> tuple[torch.Tensor, torch.Tensor, float, float] | None:
        assert self.matrix is not None
        eps = self.eps
        u = torch.exp((f - self.f_abs) / eps)
        v = torch.exp((g - self.g_abs) / eps)
        row = self.matrix @ (self.b * v)  # row sums of the current plan, divided by a_i u_i
        row_dev = self.a * (u * row - 1.0)
        f_new = self.f_abs - eps * row.log()
        if not torch.isfinite(f_new).all():
            return None
        err = float(row_dev.abs().sum())
        mass_dev = float(row_dev.sum())
        if omega != 1.0:
            f_new = f + omega * (f_new - f)
        col = self.matrix.T @ (self.a * torch.exp((f_new - self.f_abs) / eps))
        g_new = self.g_abs - eps * col.log()
        if not torch.isfinite(g_new).all():
            return None
        if omega != 1.0:
            err += float((self.b * (v * col - 1.0)).abs().sum())
            g_new = g + omega * (g_new - g)
        return f_new, g_new, err, mass_dev
