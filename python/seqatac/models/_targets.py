"""Binary accessibility stored peak-major (open cells of each peak), built in bounded memory.

Shared by scBasset (its training targets) and CellSpace (the open cells of each event).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

_CHUNK_NNZ = 1 << 24  # stored values transposed at a time


@dataclass(frozen=True)
class PeakTargets:
    """Binary accessibility stored peak-major: for peak ``p``, ``indices[indptr[p]:indptr[p + 1]]`` are its open cells.

    Attributes
    ----------
    indptr
        ``int64`` ``(n_peaks + 1,)``.
    indices
        ``int32`` cell indices, sorted within each peak.
    n_cells
        Number of cells.
    """

    indptr: np.ndarray
    indices: np.ndarray
    n_cells: int

    @property
    def n_peaks(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def from_matrix(cls, X) -> "PeakTargets":
        """Transpose a cells × peaks matrix (sparse or dense; any value > 0 is open) in bounded memory.

        Runs in O(nnz log nnz_chunk) time; the temporary memory is bounded by a chunk of ``2**24`` values,
        besides the output (4 bytes per open entry).
        """
        n_cells, n_peaks = X.shape
        if sp.issparse(X) and X.format == "csc":  # already peak-major
            return cls._from_compressed(X.indptr, X.indices, X.data, n_cells)
        if not sp.issparse(X):
            X = np.asarray(X)
        elif X.format != "csr":
            X = sp.csr_matrix(X)
        counts = np.zeros(n_peaks, dtype=np.int64)
        for rows, cols in _row_chunks(X):
            counts += np.bincount(cols, minlength=n_peaks)
        indptr = np.zeros(n_peaks + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = np.empty(indptr[-1], dtype=np.int32)
        cursor = indptr[:-1].copy()
        for rows, cols in _row_chunks(X):
            order = np.argsort(cols, kind="stable")  # rows stay ascending within a peak
            cols, rows = cols[order], rows[order]
            rank = np.arange(len(cols)) - np.searchsorted(cols, cols, side="left")
            indices[cursor[cols] + rank] = rows
            cursor += np.bincount(cols, minlength=n_peaks)
        return cls(indptr, indices, n_cells)

    @classmethod
    def _from_compressed(cls, indptr, indices, data, n_cells) -> "PeakTargets":
        keep = np.asarray(data) > 0
        if keep.all():
            return cls(np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int32), n_cells)
        kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
        new_indptr = kept_before[np.asarray(indptr, dtype=np.int64)]
        return cls(new_indptr, np.asarray(indices)[keep].astype(np.int32), n_cells)

    def subset_peaks(self, peaks: np.ndarray) -> "PeakTargets":
        """Targets of the given peaks only, in that order."""
        lengths = np.diff(self.indptr)[peaks]
        indptr = np.zeros(len(peaks) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return PeakTargets(indptr, self._gather(peaks), self.n_cells)

    def _gather(self, peaks: np.ndarray) -> np.ndarray:
        starts, ends = self.indptr[peaks], self.indptr[peaks + 1]
        lengths = ends - starts
        if lengths.sum() == 0:
            return np.empty(0, dtype=np.int32)
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return self.indices[np.arange(lengths.sum()) + offsets]

    def dense_rows(self, peaks: np.ndarray, cells: np.ndarray | None = None, *, dtype=np.float32) -> np.ndarray:
        """Dense 0/1 targets ``(len(peaks), n_cells or len(cells))`` of a minibatch."""
        lengths = np.diff(self.indptr)[peaks]
        rows = np.repeat(np.arange(len(peaks)), lengths)
        cols = self._gather(np.asarray(peaks))
        width = self.n_cells
        if cells is not None:
            position = np.full(self.n_cells, -1, dtype=np.int64)
            position[cells] = np.arange(len(cells))
            cols = position[cols]
            keep = cols >= 0
            rows, cols, width = rows[keep], cols[keep], len(cells)
        out = np.zeros((len(peaks), width), dtype=dtype)
        out[rows, cols] = 1
        return out

    def n_open_cells(self) -> np.ndarray:
        """Open cells per peak, ``(n_peaks,)``."""
        return np.diff(self.indptr)


def _row_chunks(X):
    """Yield ``(rows, cols)`` of the entries > 0 of a CSR or dense matrix, a chunk of rows at a time."""
    n_rows = X.shape[0]
    if sp.issparse(X):
        nnz_per_row = np.diff(X.indptr)
        start = 0
        while start < n_rows:
            stop = max(start + 1, int(np.searchsorted(X.indptr, X.indptr[start] + _CHUNK_NNZ, side="right")) - 1)
            stop = min(stop, n_rows)
            lo, hi = X.indptr[start], X.indptr[stop]
            keep = X.data[lo:hi] > 0
            rows = np.repeat(np.arange(start, stop, dtype=np.int32), nnz_per_row[start:stop])
            yield rows[keep], X.indices[lo:hi][keep].astype(np.int64)
            start = stop
        return
    step = max(1, _CHUNK_NNZ // max(1, X.shape[1]))
    for start in range(0, n_rows, step):
        rows, cols = np.nonzero(X[start:start + step] > 0)
        yield (rows + start).astype(np.int32), cols.astype(np.int64)
