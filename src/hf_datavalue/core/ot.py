"""Optimal transport: the one OT path of hf_datavalue (used by LAVA, GOT-D, Projektor and DAM).

Conventions (see `specs/lava.md` §2). Entropic OT between weighted point clouds `(a, b)` with cost `C`,
regularised by `eps * KL(pi | a x b)`:

    OT_eps(a, b) = max_{f, g} <a, f> + <b, g> - eps * sum_ij a_i b_j (exp((f_i + g_j - C_ij) / eps) - 1)

[`sinkhorn`] returns the *dual potentials* `f` (source side, length N) and `g` (target side, length M) in
cost units, never POT's scaling vectors. `d OT / d a_i = f_i`, which is what LAVA's calibrated gradient and
GOT-D's scores are built on.

Costs are objects, so that a huge problem never materialises an N x M matrix:

* [`DenseCost`] wraps a given matrix;
* [`PointCloudCost`] computes `feature_weight * ||x_i - y_j||^2 (+ label_table[lx_i, ly_j])` block by block
  (the LAVA hybrid cost with a label table, or GOT-D's squared Euclidean cost without one).

The solver iterates in the log domain over row blocks. In ``mode="online"`` each block is recomputed every
iteration, in O((N + M) d + block) memory. In ``mode="dense"`` the cost is computed once and kept, and by
default the iterations run on a *stabilised kernel* (Schmitzer 2019, "absorption"): once per epsilon stage the
potentials are absorbed into `K_ij = exp((f_i + g_j - C_ij) / eps)`, and each iteration is then two
matrix-vector products instead of two log-sum-exp passes (several times faster on CPU and GPU). A log-domain
iteration re-stabilises the kernel whenever the scalings drift or underflow, so both modes give the same
potentials.

Usage:

```python
import torch
from hf_datavalue.core.ot import PointCloudCost, sinkhorn, calibrated_gradient

x, y = torch.randn(500, 8, dtype=torch.float64), torch.randn(200, 8, dtype=torch.float64)
result = sinkhorn(PointCloudCost(x, y, feature_weight=0.5), eps=0.1, tol=1e-9)
values = calibrated_gradient(result.f)  # higher = moving mass onto the point increases the distance
```
"""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from .errors import ConfigError, EmptyDatasetError, NonFiniteError, ShapeMismatchError, SolverError

__all__ = [
    "CostMatrix",
    "DenseCost",
    "OTResult",
    "PointCloudCost",
    "c_transform",
    "calibrated_gradient",
    "class_distance_table",
    "exact_ot",
    "resolve_eps",
    "sinkhorn",
    "sinkhorn_pot",
]

logger = logging.getLogger(__name__)

ArrayLike = np.ndarray | torch.Tensor | Sequence[float]
OTMode = Literal["auto", "dense", "online"]
IterationMode = Literal["auto", "log", "kernel"]

# Cost entries held at once by one row block (about 64 MB in float32) and the auto-mode dense limit.
_BLOCK_ENTRIES = 1 << 24
DEFAULT_MAX_DENSE_ENTRIES = 500_000_000
# A stabilised kernel is rebuilt once the scalings exp((f - f_abs) / eps) leave [e^-30, e^30]: far from float32
# overflow, and entries that underflowed when the kernel was built stay negligible.
_ABSORB_LOG_BOUND = 30.0


def _as_tensor(x: ArrayLike, dtype: torch.dtype, device: torch.device | str, what: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    t = t.to(device=device, dtype=dtype)
    if not torch.isfinite(t).all():
        raise NonFiniteError(f"{what} holds NaN or infinite entries; clean or re-embed them before running OT")
    return t


class CostMatrix(ABC):
    """An N x M ground cost that can hand out row blocks. Subclasses implement [`rows`] and [`upper_bound`]."""

    shape: tuple[int, int]
    dtype: torch.dtype
    device: torch.device

    @abstractmethod
    def rows(self, start: int, stop: int) -> torch.Tensor:
        """The cost rows `start:stop` as a `(stop - start, M)` tensor."""

    @abstractmethod
    def upper_bound(self) -> float:
        """An upper bound of the largest entry, used to start epsilon annealing."""

    def sample_entries(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` cost entries at uniformly random positions (for relative epsilon)."""
        n_rows, n_cols = self.shape
        i = torch.randint(n_rows, (n,), generator=generator)
        j = torch.randint(n_cols, (n,), generator=generator)
        out = torch.empty(n, dtype=self.dtype, device=self.device)
        order = torch.argsort(i)
        i, j = i[order], j[order]
        step = max(1, _BLOCK_ENTRIES // max(n_cols, 1))
        for s in range(0, n, step):
            block_i, block_j = i[s : s + step], j[s : s + step]
            lo, hi = int(block_i.min()), int(block_i.max()) + 1
            block = self.rows(lo, hi)
            out[order[s : s + step]] = block[block_i - lo, block_j.to(self.device)]
        return out

    def dense(self) -> DenseCost:
        """Materialise the whole matrix (only for problems that fit in memory), block by block so the peak
        memory is the matrix plus one block, not several full-size temporaries."""
        n_rows, n_cols = self.shape
        out = torch.empty(n_rows, n_cols, dtype=self.dtype, device=self.device)
        step = _block_rows(n_rows, n_cols, None)
        for start in range(0, n_rows, step):
            out[start : start + step] = self.rows(start, min(start + step, n_rows))
        return DenseCost(out)


class DenseCost(CostMatrix):
    """A cost given as a full matrix.

    Args:
        matrix (`torch.Tensor` or `np.ndarray`): the `(N, M)` cost, finite.
    """

    def __init__(self, matrix: ArrayLike, dtype: torch.dtype | None = None, device: torch.device | str | None = None):
        m = torch.as_tensor(np.asarray(matrix) if not isinstance(matrix, torch.Tensor) else matrix)
        dtype = dtype or (m.dtype if m.is_floating_point() else torch.float32)
        self.matrix = _as_tensor(m, dtype, device or m.device, "cost matrix")
        if self.matrix.ndim != 2:
            raise ShapeMismatchError(f"a cost matrix must be 2-D, got shape {tuple(self.matrix.shape)}")
        self.shape = (int(self.matrix.shape[0]), int(self.matrix.shape[1]))
        self.dtype = self.matrix.dtype
        self.device = self.matrix.device

    def rows(self, start: int, stop: int) -> torch.Tensor:
        return self.matrix[start:stop]

    def upper_bound(self) -> float:
        return float(self.matrix.max())

    def dense(self) -> DenseCost:
        return self


class PointCloudCost(CostMatrix):
    """`feature_weight * ||x_i - y_j||^2 + label_table[x_labels_i, y_labels_j]`, computed block by block.

    Args:
        x (`torch.Tensor`): `(N, d)` source points.
        y (`torch.Tensor`): `(M, d)` target points.
        feature_weight (`float`, *optional*, defaults to 1.0): factor on the squared distance (0.5 for
            LAVA's `1/2 ||u - v||^2`, 1.0 for GOT-D).
        label_table (`torch.Tensor`, *optional*): `(C_x, C_y)` additive label cost (already weighted).
        x_labels, y_labels (`torch.Tensor`, *optional*): integer class ids indexing `label_table`.
        dtype, device: where the arithmetic runs.
    """

    def __init__(
        self,
        x: ArrayLike,
        y: ArrayLike,
        feature_weight: float = 1.0,
        label_table: ArrayLike | None = None,
        x_labels: ArrayLike | None = None,
        y_labels: ArrayLike | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ):
        self.x = _as_tensor(x, dtype, device, "source features")
        self.y = _as_tensor(y, dtype, device, "target features")
        if self.x.ndim != 2 or self.y.ndim != 2:
            raise ShapeMismatchError("point clouds must be 2-D (rows x features)")
        if self.x.shape[1] != self.y.shape[1]:
            raise ShapeMismatchError(
                f"source features have width {self.x.shape[1]} but target features have width {self.y.shape[1]}: "
                "embed both sides with the same model"
            )
        if len(self.x) == 0 or len(self.y) == 0:
            raise EmptyDatasetError("optimal transport needs at least one point on each side")
        self.feature_weight = float(feature_weight)
        self.shape = (int(self.x.shape[0]), int(self.y.shape[0]))
        self.dtype = dtype
        self.device = self.x.device
        self._x_sq = (self.x * self.x).sum(1)
        self._y_sq = (self.y * self.y).sum(1)
        self.label_table: torch.Tensor | None = None
        if label_table is not None:
            if x_labels is None or y_labels is None:
                raise ConfigError("a label table needs both x_labels and y_labels")
            self.label_table = _as_tensor(label_table, dtype, device, "label cost table")
            self.x_labels = torch.as_tensor(np.asarray(x_labels), device=self.device).long()
            self.y_labels = torch.as_tensor(np.asarray(y_labels), device=self.device).long()
            if len(self.x_labels) != self.shape[0] or len(self.y_labels) != self.shape[1]:
                raise ShapeMismatchError("x_labels/y_labels must have one entry per point")

    def rows(self, start: int, stop: int) -> torch.Tensor:
        xb = self.x[start:stop]
        sq = self._x_sq[start:stop, None] + self._y_sq[None, :] - 2.0 * (xb @ self.y.T)
        block = sq.clamp_(min=0.0).mul_(self.feature_weight)
        if self.label_table is not None:
            block += self.label_table[self.x_labels[start:stop]][:, self.y_labels]
        return block

    def upper_bound(self) -> float:
        # ||x - y||^2 <= (max||x - cx|| + max||y - cx|| + ...) : bound through the joint centroid.
        center = torch.cat([self.x, self.y]).mean(0)
        rx = (self.x - center).norm(dim=1).max()
        ry = (self.y - center).norm(dim=1).max()
        bound = self.feature_weight * float((rx + ry) ** 2)
        if self.label_table is not None:
            bound += float(self.label_table.max())
        return bound


@dataclass
class OTResult:
    """The solution of an entropic (or exact) OT problem.

    Attributes:
        f (`torch.Tensor`): source potentials, length N, in cost units.
        g (`torch.Tensor`): target potentials, length M.
        value (`float`): the OT value `<a, f> + <b, g>`.
        eps (`float`): the regularisation actually used (0 for exact OT).
        n_iter (`int`): Sinkhorn iterations (annealing stages included).
        marginal_error (`float`): L1 error of the source marginal at the returned potentials (the target
            marginal is exact after the last half-step).
        converged (`bool`): whether `marginal_error <= tol` was reached.
        timings (`dict`): seconds spent per stage.
        kernel_builds (`int`): how often the stabilised kernel was (re)built (0 for log-domain iterations).
    """

    f: torch.Tensor
    g: torch.Tensor
    value: float
    eps: float
    n_iter: int
    marginal_error: float
    converged: bool
    timings: dict[str, float] = field(default_factory=dict)
    kernel_builds: int = 0


def calibrated_gradient(f: ArrayLike) -> np.ndarray:
    """LAVA's calibrated gradient `CG_i = f_i - mean_{j != i} f_j` (float64, sums to zero).

    It is the derivative of the OT value when mass moves onto point i and is removed uniformly from the
    others; a strictly increasing affine map of `f`, so it ranks points exactly as `f` does.
    """
    f64 = np.asarray(f.detach().cpu() if isinstance(f, torch.Tensor) else f, dtype=np.float64)
    n = f64.shape[0]
    if n < 2:
        raise EmptyDatasetError("the calibrated gradient needs at least two points")
    return (n / (n - 1)) * f64 - f64.sum() / (n - 1)


def resolve_eps(
    cost: CostMatrix, eps: float, eps_mode: Literal["absolute", "relative"] = "absolute", seed: int = 0
) -> float:
    """Turn `(eps, eps_mode)` into an absolute epsilon. Relative mode uses `eps * median(C)` (sampled)."""
    if eps <= 0 or not math.isfinite(eps):
        raise ConfigError(f"eps must be a positive finite number, got {eps}")
    if eps_mode == "absolute":
        return float(eps)
    if eps_mode != "relative":
        raise ConfigError(f"eps_mode must be 'absolute' or 'relative', got {eps_mode!r}")
    gen = torch.Generator().manual_seed(seed)
    n_entries = cost.shape[0] * cost.shape[1]
    if n_entries <= 4_000_000:
        median = float(cost.dense().matrix.median())
    else:
        median = float(cost.sample_entries(min(n_entries, 100_000), gen).median())
    if median <= 0:
        raise SolverError("the median cost is zero: relative epsilon is undefined (are all points identical?)")
    return float(eps) * median


def _logsumexp_(buf: torch.Tensor, dim: int) -> torch.Tensor:
    """Log-sum-exp along `dim` that overwrites `buf` (saves the allocations of `torch.logsumexp`)."""
    peak = buf.amax(dim=dim, keepdim=True)
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    return (buf.sub_(peak).exp_().sum(dim=dim, keepdim=True).log_() + peak).squeeze(dim)


def _uniform_or(
    weights: ArrayLike | None, n: int, dtype: torch.dtype, device: torch.device, what: str
) -> torch.Tensor:
    if weights is None:
        return torch.full((n,), 1.0 / n, dtype=dtype, device=device)
    w = _as_tensor(weights, dtype, device, what)
    if w.shape != (n,):
        raise ShapeMismatchError(f"{what} has shape {tuple(w.shape)}, expected ({n},)")
    if (w < 0).any() or float(w.sum()) <= 0:
        raise ConfigError(f"{what} must be non-negative with a positive sum")
    return w / w.sum()


def _block_rows(n_rows: int, n_cols: int, block_size: int | None) -> int:
    if block_size is not None:
        return max(1, int(block_size))
    return max(1, min(n_rows, _BLOCK_ENTRIES // max(n_cols, 1)))


def sinkhorn(
    cost: CostMatrix | torch.Tensor | np.ndarray,
    a: ArrayLike | None = None,
    b: ArrayLike | None = None,
    *,
    eps: float = 0.1,
    eps_mode: Literal["absolute", "relative"] = "absolute",
    tol: float = 1e-6,
    max_iter: int = 10_000,
    anneal: bool = True,
    anneal_factor: float = 0.5,
    mode: OTMode = "auto",
    block_size: int | None = None,
    max_dense_entries: int = DEFAULT_MAX_DENSE_ENTRIES,
    momentum: float = 1.0,
    stage_tol: float = 1e-2,
    stage_max_iter: int = 50,
    stall_iter: int = 100,
    iteration: IterationMode = "auto",
    require_convergence: bool = False,
    seed: int = 0,
    progress: bool = False,
) -> OTResult:
    """Log-domain entropic OT with epsilon annealing; returns dual potentials in cost units.

    Args:
        cost (`CostMatrix` or array): the ground cost; an array is wrapped in [`DenseCost`].
        a (`array`, *optional*): source weights (length N), uniform when omitted.
        b (`array`, *optional*): target weights (length M), uniform when omitted.
        eps (`float`, *optional*, defaults to 0.1): entropic regularisation.
        eps_mode (`str`, *optional*, defaults to `"absolute"`): `"relative"` uses `eps * median(C)`.
        tol (`float`, *optional*, defaults to 1e-6): stop when the L1 error of the source marginal is below it
            (the target marginal is exact after each half-step). Use about 1e-4 in float32.
        max_iter (`int`, *optional*, defaults to 10000): iterations at the final epsilon.
        anneal (`bool`, *optional*, defaults to `True`): start from the cost's scale and multiply epsilon by
            `anneal_factor` each stage down to `eps`, warm-starting the potentials (epsilon scaling).
        mode (`str`, *optional*, defaults to `"auto"`): `"dense"` keeps the cost in memory, `"online"`
            recomputes row blocks each iteration; `"auto"` picks dense when `N * M <= max_dense_entries`.
        block_size (`int`, *optional*): rows per block (default keeps about 16M entries per block).
        momentum (`float`, *optional*, defaults to 1.0): over-relaxation factor in [1, 2); values above 1 often
            cut the iterations of weakly regularised problems.
        stage_tol (`float`, *optional*, defaults to 1e-2): marginal error at which an annealing stage hands over
            to the next (smaller) epsilon.
        stage_max_iter (`int`, *optional*, defaults to 50): iteration cap of each annealing stage.
        stall_iter (`int`, *optional*, defaults to 100): stop when the final stage's error has not improved by 1%
            for this many iterations (the rounding floor of float32), with a warning.
        iteration (`str`, *optional*, defaults to `"auto"`): `"log"` runs every iteration as log-sum-exps over
            the cost; `"kernel"` (dense mode only) iterates on a stabilised kernel with matrix-vector products,
            re-absorbing the potentials when the scalings drift; `"auto"` uses the kernel in dense mode. Both
            reach the same potentials; the kernel holds a second N x M buffer.
        require_convergence (`bool`, *optional*, defaults to `False`): raise [`SolverError`] instead of
            warning when `tol` is not reached.
        seed (`int`, *optional*, defaults to 0): seeds the cost sampling of relative epsilon.
        progress (`bool`, *optional*, defaults to `False`): show a tqdm bar over iterations.

    Returns:
        [`OTResult`]
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if not isinstance(cost, CostMatrix):
        cost = DenseCost(cost)
    n_rows, n_cols = cost.shape
    if n_rows == 0 or n_cols == 0:
        raise EmptyDatasetError("optimal transport needs at least one point on each side")
    if mode not in ("auto", "dense", "online"):
        raise ConfigError(f"mode must be 'auto', 'dense' or 'online', got {mode!r}")
    if not 1.0 <= momentum < 2.0:
        raise ConfigError(f"momentum must lie in [1, 2), got {momentum}")
    if not 0 < anneal_factor < 1:
        raise ConfigError(f"anneal_factor must lie in (0, 1), got {anneal_factor}")
    if iteration not in ("auto", "log", "kernel"):
        raise ConfigError(f"iteration must be 'auto', 'log' or 'kernel', got {iteration!r}")
    use_dense = mode == "dense" or (mode == "auto" and n_rows * n_cols <= max_dense_entries)
    if iteration == "kernel" and not use_dense:
        raise ConfigError("iteration='kernel' needs the dense cost: use mode='dense' (or 'auto' on a small problem)")
    use_kernel = use_dense and iteration != "log"
    if use_dense and not isinstance(cost, DenseCost):
        cost = cost.dense()
    timings["cost"] = time.perf_counter() - t0

    dtype, device = cost.dtype, cost.device
    a_t = _uniform_or(a, n_rows, dtype, device, "source weights a")
    b_t = _uniform_or(b, n_cols, dtype, device, "target weights b")
    log_a, log_b = a_t.log(), b_t.log()
    eps_final = resolve_eps(cost, eps, eps_mode, seed)

    schedule: list[float] = []
    if anneal:
        e = max(cost.upper_bound(), eps_final)
        while e > eps_final:
            schedule.append(e)
            e *= anneal_factor
    step = _block_rows(n_rows, n_cols, block_size)
    blocks = [(s, min(s + step, n_rows)) for s in range(0, n_rows, step)]

    f = torch.zeros(n_rows, dtype=dtype, device=device)
    g = torch.zeros(n_cols, dtype=dtype, device=device)

    def half_steps(
        f: torch.Tensor, g: torch.Tensor, e: float, omega: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        """One Sinkhorn iteration in one pass over the cost: f from g, then g from the (relaxed) new f.

        Returns the new potentials and the L1 marginal error of the old pair on both sides: row sums of the
        old plan are `a_i exp((f_i - f_new_i) / e)`, column sums `b_j exp((g_j - g_new_j) / e)`, so checking
        convergence costs nothing extra. The last value is the old plan's total mass minus one.
        """
        f_next = torch.empty_like(f)
        acc_max = torch.full_like(g, -math.inf)
        acc_sum = torch.zeros_like(g)
        row_term = g / e + log_b
        err = 0.0
        mass_dev = 0.0
        for s, t in blocks:
            neg = cost.rows(s, t).mul(-1.0 / e)  # -C/e, the one block-sized temporary besides `buf`
            buf = neg + row_term[None, :]
            f_new = -e * _logsumexp_(buf, dim=1)
            row_dev = a_t[s:t] * torch.expm1((f[s:t] - f_new) / e)
            err += float(row_dev.abs().sum())
            mass_dev += float(row_dev.sum())
            if omega != 1.0:
                f_new = f[s:t] + omega * (f_new - f[s:t])
            f_next[s:t] = f_new
            # Column log-sum-exp, merged across blocks with a running max (streaming, numerically stable).
            neg.add_((f_new / e + log_a[s:t])[:, None])
            block_max = neg.amax(dim=0)
            new_max = torch.maximum(acc_max, block_max)
            acc_sum.mul_(torch.exp(acc_max - new_max)).add_(neg.sub_(new_max[None, :]).exp_().sum(dim=0))
            acc_max = new_max
        g_new = -e * (acc_max + acc_sum.log())
        err += float((b_t * torch.expm1((g - g_new) / e)).abs().sum()) if omega != 1.0 else 0.0
        if omega != 1.0:
            g_new = g + omega * (g_new - g)
        return f_next, g_new, err, mass_dev

    kernel = _StabilisedKernel(cost.rows(0, n_rows), a_t, b_t, blocks) if use_kernel else None

    def iterate(
        f: torch.Tensor, g: torch.Tensor, e: float, omega: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        if kernel is None:
            return half_steps(f, g, e, omega)
        if not kernel.usable(f, g, e):
            # Warm-started from the coarser stage (plan entries <= min(a_i, b_j)), the exponents stay below about
            # 2 log(min(N, M)): the kernel is built from the current potentials directly.
            kernel.build(f, g, e)
        out = kernel.step(f, g, omega)
        if out is None:
            # Overflow or a whole row/column underflowed: one log-domain iteration re-stabilises (afterwards every
            # column of the kernel sums to 1 under the weights), then the kernel is rebuilt from it.
            f, g, err, mass_dev = half_steps(f, g, e, omega)
            kernel.build(f, g, e)
            return f, g, err, mass_dev
        return out

    t1 = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_iter, desc="Sinkhorn", unit="it", leave=False)
    n_iter = 0
    err = math.inf
    converged = False
    best, best_mass_dev = (f, g), 0.0
    omega = momentum
    stalled = False
    # Epsilon scaling: each coarser stage is solved to a loose tolerance (warm start for the next one), the
    # final epsilon to `tol`. This cuts the iterations of weakly regularised problems several times over.
    for stage, e in enumerate([*schedule, eps_final]):
        final = stage == len(schedule)
        stage_tol_e = tol if final else max(stage_tol, tol)
        last_err, rising = math.inf, 0
        floor_err, floor_iter = math.inf, n_iter
        for _ in range(max_iter if final else stage_max_iter):
            f_new, g_new, err, mass_dev = iterate(f, g, e, omega)
            n_iter += 1
            if bar is not None and final:
                bar.update(1)
                bar.set_postfix(err=f"{err:.2e}", refresh=False)
            if not math.isfinite(err):
                raise SolverError(
                    f"Sinkhorn diverged (marginal error {err}) at eps={e:g}; use float64 or a larger eps"
                )
            if final:
                best, best_mass_dev = (f, g), mass_dev
            if err <= stage_tol_e:
                converged = final
                break
            # A float32 solve can stall above `tol` at its rounding floor: stop instead of burning max_iter.
            if final:
                if err < 0.99 * floor_err:
                    floor_err, floor_iter = err, n_iter
                elif n_iter - floor_iter >= stall_iter:
                    logger.warning(
                        "Sinkhorn stalled at marginal error %.2e (tol %.0e) for %d iterations: the precision floor "
                        "of %s; use float64 for a tighter solution",
                        err,
                        tol,
                        stall_iter,
                        str(dtype).replace("torch.", ""),
                    )
                    stalled = True
                    break
            # Over-relaxation can oscillate on some problems: fall back to plain Sinkhorn when the error grows.
            rising = rising + 1 if err > last_err else 0
            last_err = err
            if omega != 1.0 and rising >= 3:
                logger.info("Sinkhorn over-relaxation oscillates (error %.2e); continuing with momentum 1", err)
                omega = 1.0
            f, g = f_new, g_new
        if not final:
            f, g = f_new, g_new
    if bar is not None:
        bar.close()
    f, g = best
    timings["solve"] = time.perf_counter() - t1
    if not (torch.isfinite(f).all() and torch.isfinite(g).all()):
        raise SolverError(f"Sinkhorn produced non-finite potentials at eps={eps_final:g}; try float64")
    if not converged and not stalled:
        msg = (
            f"Sinkhorn did not reach tol={tol:g} in {max_iter} iterations (marginal error {err:.3e}, "
            f"eps={eps_final:g}); raise max_iter, loosen tol or use a larger eps"
        )
        if require_convergence:
            raise SolverError(msg)
        logger.warning(msg)
    # The dual objective <a,f> + <b,g> - eps (mass - 1): stationary at the optimum, so errors are second order.
    value = float((a_t * f).sum() + (b_t * g).sum()) - eps_final * best_mass_dev
    logger.debug("sinkhorn %dx%d eps=%g: %d iterations, error %.2e", n_rows, n_cols, eps_final, n_iter, err)
    return OTResult(
        f=f,
        g=g,
        value=value,
        eps=eps_final,
        n_iter=n_iter,
        marginal_error=err,
        converged=converged,
        timings=timings,
        kernel_builds=kernel.n_builds if kernel is not None else 0,
    )


class _StabilisedKernel:
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


def c_transform(
    cost: CostMatrix,
    f: torch.Tensor,
    eps: float,
    *,
    log_b: float,
    a: ArrayLike | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Target-side potentials of the columns of `cost`, given converged source potentials `f` (a Sinkhorn half-step).

    `g_j = -eps * log sum_i a_i exp((f_i - C_ij) / eps)`: scores new or streamed target points against a fixed
    solution, shard by shard (GOT-D scores its pool this way without holding it in memory).

    Args:
        cost ([`CostMatrix`]): `(N, m)` cost between the N source points and m target columns.
        f (`torch.Tensor`): source potentials (length N) from [`sinkhorn`].
        eps (`float`): the absolute epsilon of that solve.
        log_b (`float`): log weight of each of these columns in the full problem (e.g. `-log(M)`).
        a (`array`, *optional*): source weights, uniform when omitted.

    Returns:
        `(g, row_lse)`: `g` (length m) and, per source row, `log sum_j b_j exp((g_j - C_ij) / eps)` over these
        columns; adding `exp` of it over all shards gives the source marginal (to check convergence).
    """
    matrix = cost.rows(0, cost.shape[0])
    n_rows = cost.shape[0]
    log_a = _uniform_or(a, n_rows, matrix.dtype, matrix.device, "source weights a").log()
    f = f.to(device=matrix.device, dtype=matrix.dtype)
    g = -eps * torch.logsumexp((f[:, None] - matrix) / eps + log_a[:, None], dim=0)
    row_lse = torch.logsumexp((g[None, :] - matrix) / eps + log_b, dim=1)
    return g, row_lse


def exact_ot(
    cost: CostMatrix | torch.Tensor | np.ndarray, a: ArrayLike | None = None, b: ArrayLike | None = None
) -> OTResult:
    """Unregularised OT by POT's network simplex (`ot.emd`), with the LP duals as potentials.

    For small problems (it materialises the cost); useful as a reference for the entropic solver.
    """
    import ot

    if not isinstance(cost, CostMatrix):
        cost = DenseCost(cost)
    matrix = cost.dense().matrix.detach().cpu().double().numpy()
    n_rows, n_cols = matrix.shape
    a_np = _uniform_or(a, n_rows, torch.float64, torch.device("cpu"), "source weights a").numpy()
    b_np = _uniform_or(b, n_cols, torch.float64, torch.device("cpu"), "target weights b").numpy()
    plan, log = ot.emd(a_np, b_np, matrix, log=True)
    f = torch.as_tensor(log["u"], dtype=torch.float64)
    g = torch.as_tensor(log["v"], dtype=torch.float64)
    err = float(np.abs(plan.sum(1) - a_np).sum())
    return OTResult(f=f, g=g, value=float(log["cost"]), eps=0.0, n_iter=0, marginal_error=err, converged=True)


def sinkhorn_pot(
    cost: CostMatrix | torch.Tensor | np.ndarray,
    a: ArrayLike | None = None,
    b: ArrayLike | None = None,
    *,
    eps: float = 0.1,
    tol: float = 1e-9,
    max_iter: int = 100_000,
) -> OTResult:
    """POT's log-domain Sinkhorn (`ot.bregman.sinkhorn_log`, torch backend), converted to potentials.

    POT returns log-scalings for plain-entropy regularisation; `eps * (log_u - log a)` is the KL-convention
    potential `f` of [`sinkhorn`] (up to the usual constant shift). A cross-check backend for dense problems.
    """
    import ot

    if not isinstance(cost, CostMatrix):
        cost = DenseCost(cost)
    matrix = cost.dense().matrix
    n_rows, n_cols = matrix.shape
    a_t = _uniform_or(a, n_rows, matrix.dtype, matrix.device, "source weights a")
    b_t = _uniform_or(b, n_cols, matrix.dtype, matrix.device, "target weights b")
    _, log = ot.bregman.sinkhorn_log(a_t, b_t, matrix, reg=eps, numItermax=max_iter, stopThr=tol, log=True)
    f = eps * (log["log_u"] - a_t.log())
    g = eps * (log["log_v"] - b_t.log())
    value = float((a_t * f).sum() + (b_t * g).sum())
    err_hist = log.get("err", [math.nan])
    err = float(err_hist[-1]) if len(err_hist) else math.nan
    return OTResult(
        f=f, g=g, value=value, eps=eps, n_iter=int(log.get("niter", 0)), marginal_error=err, converged=err <= tol
    )


def class_distance_table(
    x: torch.Tensor,
    x_labels: torch.Tensor,
    y: torch.Tensor,
    y_labels: torch.Tensor,
    n_x_classes: int,
    n_y_classes: int,
    *,
    eps: float = 0.1,
    feature_weight: float = 0.5,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    momentum: float = 1.0,
    progress: bool = False,
) -> tuple[torch.Tensor, int]:
    """Entropic OT distance between every (source class, target class) pair of label-conditional clouds.

    Only the `n_x_classes x n_y_classes` block is solved (no source-source or target-target pairs, unlike the
    reference). Classes absent on one side get `+inf` rows/columns (they are never looked up).

    Returns:
        `(table, n_problems)`: the `(C_x, C_y)` table of OT values and the number of inner problems solved.
    """
    table = torch.full((n_x_classes, n_y_classes), math.inf, dtype=x.dtype, device=x.device)
    x_members = [torch.nonzero(x_labels == c).flatten() for c in range(n_x_classes)]
    y_members = [torch.nonzero(y_labels == c).flatten() for c in range(n_y_classes)]
    pairs = [(i, j) for i in range(n_x_classes) for j in range(n_y_classes) if len(x_members[i]) and len(y_members[j])]
    iterator = pairs
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(pairs, desc="Class distances", leave=False)
    for i, j in iterator:
        inner = PointCloudCost(
            x[x_members[i]], y[y_members[j]], feature_weight=feature_weight, dtype=x.dtype, device=x.device
        )
        table[i, j] = sinkhorn(inner, eps=eps, tol=tol, max_iter=max_iter, momentum=momentum).value
    return table, len(pairs)
