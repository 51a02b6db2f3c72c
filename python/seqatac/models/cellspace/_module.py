"""The CellSpace (StarSpace mode 0) core: embedding tables, cosine margin ranking loss, per-row AdaGrad.

This is a pure tensor module: feature rows and cell indices in, losses out, no AnnData. Training does not
use autograd. StarSpace's update is not the exact gradient of the cosine loss: it treats the normalised
vectors as the quantities being moved, and this module reproduces that update (model.cpp,
``trainOneBatch``/``backward``):

- ``lhs`` = sum of the example's feature rows, L2-normalised; cells are normalised rows of the cell table.
- Loss of an example: ``sum_j max(0, margin - cos(lhs, pos) + cos(lhs, neg_j)) / n_candidates`` over the
  first ``max_negatives`` violating candidates ``j`` (a candidate equal to the positive is skipped).
- ``g = mean(violating negatives) - pos`` (normalised vectors). Every feature row of the example moves by
  ``-lr / sqrt(a + 1e-6) · g`` after ``a += |g|² / d``; the positive cell by ``+lr / sqrt(a) · lhs``, each
  violating negative by ``-lr / n_violating / sqrt(a) · lhs`` after ``a += |lhs|² / d`` (one scalar AdaGrad
  accumulator ``a`` per row).
- Every touched row is then rescaled to norm <= 1 (StarSpace does this lazily in a separate thread).

Vectorisation: a *chunk* of examples is scored against one snapshot of the tables and its updates are
summed per row before they are applied (what StarSpace's Hogwild threads approximate). The chunk's unique
feature rows are gathered once (one sort), the bags are summed from that small, cache-resident copy, and
the updated rows are scattered back once. Each table row packs the embedding, its AdaGrad accumulator and
zero padding into a multiple of 16 floats (32 at d = 30: two aligned cache lines), so that gather and
scatter — random accesses into a table of up to millions of rows, the cost that dominates training — move
the fewest cache lines. Large tables are allocated on transparent huge pages where Linux allows it.
"""

from __future__ import annotations

import contextlib
import functools
import mmap
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

_ADAGRAD_EPS = 1e-6
_NORM_EPS = float(torch.finfo(torch.float32).eps)
_HUGE_PAGE_BYTES = 64 << 20  # tables above this size ask for transparent huge pages


def packed_width(n_latent: int) -> int:
    """Floats per packed row: ``n_latent`` embedding values + 1 AdaGrad accumulator, rounded up to 16."""
    return -(-(n_latent + 1) // 16) * 16


def _allocate(n_rows: int, n_cols: int) -> torch.Tensor:
    """Zeroed float32 ``(n_rows, n_cols)``; on Linux, big tables use transparent huge pages (fewer TLB misses)."""
    nbytes = n_rows * n_cols * 4
    if nbytes < _HUGE_PAGE_BYTES or not sys.platform.startswith("linux") or not hasattr(mmap, "MADV_HUGEPAGE"):
        return torch.zeros(n_rows, n_cols)
    buffer = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        buffer.madvise(mmap.MADV_HUGEPAGE)
    except OSError:  # THP disabled: ordinary pages
        pass
    # the tensor keeps the numpy array, which keeps the mmap alive
    return torch.from_numpy(np.frombuffer(buffer, dtype=np.float32).reshape(n_rows, n_cols))


def _records(table: torch.Tensor) -> np.ndarray:
    """The rows of a contiguous float32 table as a 1-D numpy array of opaque records (one per row)."""
    return table.numpy().view(np.dtype((np.void, table.shape[1] * 4))).reshape(-1)


def gather_rows(table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``table[rows]`` as a new contiguous tensor.

    numpy's ``take`` over whole-row records is 2-4x faster than ``index_select`` for random rows of a
    table much larger than the caches, and releases the GIL.
    """
    taken = np.take(_records(table), rows.numpy())
    return torch.from_numpy(taken.view(np.float32).reshape(len(rows), table.shape[1]))


def scatter_rows(table: torch.Tensor, rows: torch.Tensor, values: torch.Tensor) -> None:
    """``table[rows] = values`` for unique ``rows`` (numpy ``put`` of whole-row records, see :func:`gather_rows`)."""
    np.put(_records(table), rows.numpy(), _records(values.contiguous()))


@functools.lru_cache(maxsize=4)
def _bag_of_slot(n_examples: int, n_slots: int) -> torch.Tensor:
    """Example index of every position of a flattened ``(n_examples, n_slots)`` chunk."""
    return torch.arange(n_examples).repeat_interleave(n_slots)


def _normalize(x: torch.Tensor) -> torch.Tensor:
    """Rows divided by their L2 norm (floored at float32 epsilon, as StarSpace's ``norm2``)."""
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(_NORM_EPS)


class CellSpaceModule(nn.Module):
    """Feature (k-mer + N-gram) and cell embedding tables with their AdaGrad accumulators.

    Parameters
    ----------
    n_feature_rows
        Rows of the feature table, the padding row (the last one) included.
    n_cells
        Rows of the cell table.
    n_latent
        Embedding dimension ``d``.
    init_sd
        Standard deviation of the N(0, sd) initialisation (StarSpace ``initRandSd`` = 0.001).
    max_norm
        Row norms are kept at or below this value (StarSpace ``norm`` = 1).
    generator
        Local torch generator for the initialisation.

    Notes
    -----
    State: ``features`` ``(n_feature_rows, W)`` and ``cells`` ``(n_cells, W)`` packed tables, ``W =
    packed_width(d)``: columns ``[0, d)`` hold the embedding, column ``d`` the AdaGrad accumulator, the rest
    stay zero. :attr:`feature_embedding` and :attr:`cell_embedding` are views of the embedding columns.
    """

    def __init__(
        self,
        n_feature_rows: int,
        n_cells: int,
        n_latent: int,
        *,
        init_sd: float = 0.001,
        max_norm: float = 1.0,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.n_latent = int(n_latent)
        self.max_norm = float(max_norm)
        self.pad = int(n_feature_rows) - 1
        width = packed_width(n_latent)
        features, cells = _allocate(n_feature_rows, width), _allocate(n_cells, width)
        for table in (features, cells):
            block = 1 << 18
            for begin in range(0, table.shape[0], block):  # initialise in blocks: no full-size temporary
                rows = table[begin : begin + block, :n_latent]
                rows.copy_(torch.randn(rows.shape, generator=generator) * init_sd)
        features[self.pad] = 0.0
        self.features = nn.Parameter(features, requires_grad=False)
        self.cells = nn.Parameter(cells, requires_grad=False)

    @property
    def feature_embedding(self) -> torch.Tensor:
        """``(n_feature_rows, d)`` view of the feature embedding (the last row is the zero padding row)."""
        return self.features[:, : self.n_latent]

    @property
    def cell_embedding(self) -> torch.Tensor:
        """``(n_cells, d)`` view of the cell embedding."""
        return self.cells[:, : self.n_latent]

    @property
    def nbytes(self) -> int:
        """Bytes held by the packed tables."""
        return sum(t.numel() * t.element_size() for t in self.parameters())

    def lhs_embedding(self, features: torch.Tensor) -> torch.Tensor:
        """Normalised bag-of-features embedding.

        Parameters
        ----------
        features
            Integer feature rows ``(B, F)``; the padding row contributes nothing.

        Returns
        -------
        ``(B, d)`` unit vectors (a bag of only padding gives the zero vector).
        """
        # no padding_idx: the padding row is zero and never updated, and padding_idx disables fbgemm (20x slower)
        summed = F.embedding_bag(features, self.features, mode="sum")
        return _normalize(summed[:, : self.n_latent])

    def _scores(self, bags: torch.Tensor, local: torch.Tensor, positives, candidates, margin, max_negatives):
        d = self.n_latent
        lhs = _normalize(F.embedding_bag(bags, local, mode="sum")[:, :d])
        pos = _normalize(self.cells.index_select(0, positives)[:, :d])
        neg = _normalize(F.embedding(candidates, self.cells)[..., :d])
        pos_sim = (lhs * pos).sum(1)
        neg_sim = torch.bmm(neg, lhs[:, :, None]).squeeze(2)
        hinge = (margin - pos_sim[:, None] + neg_sim).clamp_min(0.0)
        violating = (hinge > 0) & (candidates != positives[:, None])
        used = violating & (torch.cumsum(violating, dim=1) <= max_negatives)
        loss = (hinge * used).sum(1) / candidates.shape[1]
        return lhs, pos, neg, used, loss

    @torch.no_grad()
    def loss(
        self, features: torch.Tensor, positives: torch.Tensor, candidates: torch.Tensor, *, margin: float = 0.05,
        max_negatives: int = 10,
    ) -> torch.Tensor:
        """Per-example loss without updating anything.

        Parameters
        ----------
        features
            ``(B, F)`` feature rows of each example's LHS window.
        positives
            ``(B,)`` positive cell of each example.
        candidates
            ``(B, K)`` negative candidate cells of each example, in search order.
        margin, max_negatives
            Hinge margin and the most violating candidates used per example.

        Returns
        -------
        ``(B,)`` summed hinge of the used negatives divided by ``K``.
        """
        return self._scores(features, self.features, positives, candidates, margin, max_negatives)[-1]

    @torch.no_grad()
    def train_step(
        self, features: torch.Tensor, positives: torch.Tensor, candidates: torch.Tensor, *, lr: float,
        margin: float = 0.05, max_negatives: int = 10, n_shared_rows: int = 0, lock=None,
    ) -> torch.Tensor:
        """Score a chunk of examples and apply StarSpace's AdaGrad update (see the module docstring).

        Parameters are as for :meth:`loss`, plus:

        lr
            Learning rate.
        n_shared_rows
            Feature rows ``[0, n_shared_rows)`` (the k-mers) that concurrent workers update all the time:
            they are re-read and written back under ``lock``. Other rows (N-gram buckets) are written back
            from the chunk's snapshot, so with several workers a bucket row touched by two concurrent
            chunks keeps one of the two updates (Hogwild, as StarSpace's threads).
        lock
            A ``threading.Lock`` shared by concurrent workers, or None for a single worker.

        Returns
        -------
        ``(B,)`` loss of each example before the update.
        """
        d = self.n_latent
        n_examples, n_slots = features.shape
        flat = features.reshape(-1)
        sorted_rows, order = torch.sort(flat)
        rows, sorted_inverse, counts = torch.unique_consecutive(sorted_rows, return_inverse=True, return_counts=True)
        rows = rows.long()
        inverse = torch.empty(flat.shape, dtype=torch.int64).scatter_(0, order, sorted_inverse)
        local = gather_rows(self.features, rows)  # the one gather from the big table
        lhs, pos, neg, used, loss = self._scores(
            inverse.view(n_examples, n_slots), local, positives, candidates, margin, max_negatives
        )
        n_used = used.sum(1)
        active = n_used > 0
        if lr <= 0 or not bool(active.any()):
            return loss
        n_used = n_used.clamp_min(1).to(lhs.dtype)
        neg_mean = torch.bmm(used[:, None, :].to(lhs.dtype), neg).squeeze(1) / n_used[:, None]
        direction = (neg_mean - pos) * active[:, None]  # StarSpace's dLoss/dlhs; 0 for inactive examples
        # per unique row: sum of the directions of its occurrences and of their |g|²/d (AdaGrad)
        payload = torch.zeros(n_examples, self.features.shape[1])  # packed like a table row
        payload[:, :d] = direction
        payload[:, d] = (direction * direction).sum(1) / d
        offsets = torch.cumsum(counts, 0) - counts
        sums = F.embedding_bag(_bag_of_slot(n_examples, n_slots)[order], payload, offsets, mode="sum")
        if int(rows[-1]) == self.pad:
            sums[-1] = 0.0
        shared = int(torch.searchsorted(rows, n_shared_rows))
        scatter_rows(self.features, rows[shared:], self._updated(local[shared:], sums[shared:], lr))
        with lock if lock is not None else contextlib.nullcontext():
            fresh = gather_rows(self.features, rows[:shared])
            scatter_rows(self.features, rows[:shared], self._updated(fresh, sums[:shared], lr))
            self._update_cells(positives, candidates, used, active, n_used, lhs, lr)
        return loss

    def _updated(self, packed: torch.Tensor, sums: torch.Tensor, lr: float) -> torch.Tensor:
        """Packed rows after ``a += sums[:, d]; w -= lr / sqrt(a + eps) · sums[:, :d]`` and the norm bound.

        The arithmetic runs on whole packed rows (contiguous, vectorised); column ``d`` is then reset to
        the new accumulator and the padding columns stay zero because ``sums`` is zero there.
        """
        d = self.n_latent
        accumulator = packed[:, d] + sums[:, d]
        step = (accumulator + _ADAGRAD_EPS).rsqrt_().mul_(-lr)
        packed.addcmul_(step[:, None], sums)
        norms = torch.linalg.vector_norm(packed[:, :d], dim=1, keepdim=True)
        packed.mul_(self.max_norm / norms.clamp_min(self.max_norm))
        packed[:, d] = accumulator
        return packed

    def _update_cells(self, positives, candidates, used, active, n_used, lhs, lr: float) -> None:
        d = self.n_latent
        example, slot = used.nonzero(as_tuple=True)
        positive_examples = active.nonzero().squeeze(1)
        cells = torch.cat([positives[positive_examples], candidates[example, slot]])
        coefficient = torch.cat([torch.ones(len(positive_examples)), -1.0 / n_used[example]]) * lr
        vectors = lhs[torch.cat([positive_examples, example])]
        weight = (vectors * vectors).sum(1) / d  # |lhs|²/d: 1 unless the window was all padding
        touched, inverse = torch.unique(cells, return_inverse=True)
        local = gather_rows(self.cells, touched)
        local[:, d].index_add_(0, inverse, weight)
        scale = coefficient / torch.sqrt(local[inverse, d] + _ADAGRAD_EPS)
        local[:, :d].index_add_(0, inverse, scale[:, None] * vectors)
        local[:, :d].renorm_(2, 0, self.max_norm)
        scatter_rows(self.cells, touched, local)
