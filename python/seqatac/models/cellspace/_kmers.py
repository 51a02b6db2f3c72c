"""CellSpace features: canonical k-mer rows, hashed N-gram rows and L-bp window sampling.

Sequences are ``int8`` codes (A, C, G, T = 0..3, N = 4; :func:`seqatac.data.encode_sequence`). A k-mer is
coded as a base-4 integer, first base most significant; its *canonical* form is the smaller of its code
and its reverse complement's code, so a k-mer and its reverse complement share one embedding row.

Feature table rows (one table, :func:`feature_layout`):

- ``[0, n_kmers)``: canonical k-mers, ordered by canonical code — ``(4^k + 4^(k/2)) / 2`` rows for even
  ``k`` (32,896 for k = 8), ``4^k / 2`` for odd ``k``.
- ``[n_kmers, n_kmers + bucket)``: N-gram buckets. A run of ``j`` adjacent k-mers (``j = 2..N``) is the
  ``(k + j - 1)``-mer it spans; its canonical code is hashed (SplitMix64, deterministic and seed-free) into
  one of ``bucket`` rows. Because the hash is of the canonical code, N-grams are strand-symmetric too (the
  authors hash the ordered k-mer tokens, which is not), so a sequence and its reverse complement have the
  same features.
- ``n_kmers + bucket``: the padding row (always zero, never trained), used for k-mers or N-grams that
  contain N or fall past the end of a short event.

A training window of ``L`` bp holds ``L - k + 1`` k-mer slots and ``L - k - j + 2`` slots per N-gram order
``j`` (143 + 142 + 141 = 426 features at k = 8, N = 3, L = 150; the authors' loop keeps 425).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from ..._errors import SeqatacInputError
from ..._utils import is_whole
from ...data import N_CODE

MAX_K = 12  # the k-mer lookup table has 4^k entries (16.8 M int32 at k = 12)
MAX_GRAM = 31  # (k + N - 1)-mer codes must fit in 62 bits

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def n_canonical_kmers(k: int) -> int:
    """Number of canonical k-mers: ``(4^k + 4^(k/2)) / 2`` for even ``k`` (palindromes), ``4^k / 2`` for odd."""
    return (4**k + (4 ** (k // 2) if k % 2 == 0 else 0)) // 2


def reverse_complement_codes(codes: np.ndarray, k: int) -> np.ndarray:
    """Codes of the reverse complements of k-mer codes (``int64`` array of any shape)."""
    codes = np.asarray(codes, dtype=np.int64)
    rc = np.zeros_like(codes)
    for shift in range(k):
        rc = rc * 4 + (3 - ((codes >> (2 * shift)) & 3))
    return rc


@lru_cache(maxsize=4)
def _kmer_lookup(k: int) -> tuple[np.ndarray, np.ndarray]:
    """(row of every k-mer code ``(4^k,)`` int32, canonical code of every row ``(n_kmers,)`` int64)."""
    codes = np.arange(4**k, dtype=np.int64)
    canonical = np.minimum(codes, reverse_complement_codes(codes, k))
    row_codes, rows = np.unique(canonical, return_inverse=True)
    rows = rows.astype(np.int32)
    rows.flags.writeable = False
    row_codes.flags.writeable = False
    return rows, row_codes


def check_k(k: int) -> int:
    """Validate the k-mer length."""
    if not is_whole(k) or not 2 <= k <= MAX_K:
        raise SeqatacInputError(f"k-mer length k={k!r} must be an integer in 2..{MAX_K} (the authors use 8).")
    return int(k)


def kmer_rows(k: int) -> np.ndarray:
    """Embedding row of every k-mer code, ``int32`` of shape ``(4^k,)`` (read-only)."""
    return _kmer_lookup(check_k(k))[0]


def canonical_kmers(k: int) -> pd.Index:
    """The canonical k-mers as strings, in row order (``n_canonical_kmers(k)`` entries)."""
    row_codes = _kmer_lookup(check_k(k))[1]
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    digits = (row_codes[:, None] >> (2 * np.arange(k - 1, -1, -1, dtype=np.int64))) & 3
    chars = letters[digits]
    return pd.Index([row.tobytes().decode("ascii") for row in chars], name="kmer")


@dataclass(frozen=True)
class FeatureLayout:
    """Row layout of the feature table.

    Attributes
    ----------
    k, ngrams, bucket
        k-mer length, N-gram order (1 = k-mers only) and number of N-gram hash buckets.
    """

    k: int
    ngrams: int
    bucket: int

    @property
    def n_kmers(self) -> int:
        """Canonical k-mer rows."""
        return n_canonical_kmers(self.k)

    @property
    def n_ngram_rows(self) -> int:
        """N-gram bucket rows (0 when ``ngrams == 1``)."""
        return self.bucket if self.ngrams > 1 else 0

    @property
    def pad(self) -> int:
        """Index of the all-zero padding row."""
        return self.n_kmers + self.n_ngram_rows

    @property
    def n_rows(self) -> int:
        """Rows of the feature table, the padding row included."""
        return self.pad + 1

    def n_features(self, length: int) -> int:
        """Feature slots of a window of ``length`` bp (k-mers plus every N-gram order)."""
        return sum(max(length - self.k - j + 2, 0) for j in range(1, self.ngrams + 1))


def feature_layout(k: int, ngrams: int, bucket: int) -> FeatureLayout:
    """Validated :class:`FeatureLayout`."""
    k = check_k(k)
    if not is_whole(ngrams) or ngrams < 1 or k + ngrams - 1 > MAX_GRAM:
        raise SeqatacInputError(
            f"ngrams={ngrams!r} must be an integer >= 1 with k + ngrams - 1 <= {MAX_GRAM} (the authors use 3; "
            "1 means k-mers only)."
        )
    if not is_whole(bucket) or (ngrams > 1 and bucket < 1):
        raise SeqatacInputError(f"bucket={bucket!r} must be a positive integer (the authors use 2,000,000).")
    return FeatureLayout(k, int(ngrams), int(bucket))


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser of ``uint64`` values (wrapping arithmetic)."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hash_ngrams(canonical_codes: np.ndarray, order: int, layout: FeatureLayout) -> np.ndarray:
    """Feature rows of N-grams of ``order`` k-mers given the canonical codes of the ``(k + order - 1)``-mers.

    Parameters
    ----------
    canonical_codes
        ``int64`` canonical codes, any shape; negative entries (N-containing) map to the padding row.
    order
        Number of k-mers in the N-gram (2..N).
    layout
        The feature layout (``k`` and ``bucket``).

    Returns
    -------
    ``int64`` rows in ``[n_kmers, n_kmers + bucket)`` (or the padding row), same shape as the input.
    """
    codes = np.asarray(canonical_codes, dtype=np.int64)
    keyed = codes.astype(np.uint64) ^ (np.uint64(order) << np.uint64(58))  # the order salts the hash
    with np.errstate(over="ignore"):
        hashed = _splitmix64(keyed)
    rows = (hashed % np.uint64(layout.bucket)).astype(np.int64) + layout.n_kmers
    return np.where(codes >= 0, rows, layout.pad)


def _gram_rows(size: int, order: int, layout: FeatureLayout) -> np.ndarray:
    """Feature row of every forward code of a ``size``-mer (``size = k + order - 1``), ``int32`` ``(4^size,)``."""
    if order == 1:
        return kmer_rows(layout.k)
    codes = np.arange(4**size, dtype=np.int64)
    canonical = np.minimum(codes, reverse_complement_codes(codes, size))
    return hash_ngrams(canonical, order, layout).astype(np.int32)


@lru_cache(maxsize=8)
def _gram_lookup(layout: FeatureLayout) -> tuple[np.ndarray | None, ...]:
    """Per N-gram order, the row of every forward code when ``4^size`` is small enough to tabulate."""
    tables = []
    for order in range(1, layout.ngrams + 1):
        size = layout.k + order - 1
        table = _gram_rows(size, order, layout) if size <= MAX_K else None
        if table is not None:
            table.flags.writeable = False
        tables.append(table)
    return tuple(tables)


def window_features(codes: np.ndarray, layout: FeatureLayout) -> np.ndarray:
    """Feature rows of each sequence window: its canonical k-mers, then its N-grams of order 2..N.

    Parameters
    ----------
    codes
        ``int8`` codes ``(n, L)``; positions holding N (4) give padding features.
    layout
        Feature layout.

    Returns
    -------
    ``int32`` rows ``(n, layout.n_features(L))``.

    Notes
    -----
    The forward code of the longest gram (``k + N - 1`` bp) is rolled over the window once; shorter grams
    are its prefixes (right shifts) and every code maps to its row through a lookup table.
    """
    codes = np.asarray(codes)
    n, length = codes.shape
    k, longest = layout.k, layout.k + layout.ngrams - 1
    width = length - k + 1
    if width <= 0:
        return np.full((n, 0), layout.pad, dtype=np.int32)
    code_type = np.int32 if 2 * longest < 31 else np.int64
    padded = np.zeros((n, width + longest - 1), dtype=code_type)  # past the window: A, masked below
    has_n = bool((codes >= N_CODE).any())
    padded[:, :length] = np.where(codes >= N_CODE, 0, codes) if has_n else codes
    forward = np.zeros((n, width), dtype=code_type)
    for j in range(longest):
        forward <<= 2
        forward |= padded[:, j : j + width]
    if has_n:
        n_count = np.zeros((n, length + 1), dtype=np.int32)
        np.cumsum(codes >= N_CODE, axis=1, out=n_count[:, 1:])
    blocks = []
    for order, table in enumerate(_gram_lookup(layout), start=1):
        size = k + order - 1
        slots = length - size + 1
        if slots <= 0:
            break
        gram = forward[:, :slots] >> (2 * (longest - size))
        if table is not None:
            rows = table[gram]
        else:  # (k + order - 1)-mers too long to tabulate: hash on the fly
            gram = gram.astype(np.int64)
            rows = hash_ngrams(np.minimum(gram, reverse_complement_codes(gram, size)), order, layout)
        if has_n:
            rows = np.where(n_count[:, size : size + slots] == n_count[:, :slots], rows, layout.pad)
        blocks.append(rows)
    return np.concatenate(blocks, axis=1, dtype=np.int32)


class EventSequences:
    """Integer-coded DNA of all events in one flat array, for fast window sampling.

    Parameters
    ----------
    sequences
        One ``int8`` code array per event (any lengths).
    """

    def __init__(self, sequences: list[np.ndarray]):
        self.lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        self.offsets = np.zeros(len(sequences), dtype=np.int64)
        if len(sequences):
            self.offsets[1:] = np.cumsum(self.lengths)[:-1]
        self._flat = np.concatenate([*sequences, np.zeros(0, dtype=np.int8)]).astype(np.int8, copy=False)

    @classmethod
    def from_flat(cls, flat: np.ndarray, lengths: np.ndarray) -> "EventSequences":
        """Wrap an already concatenated code array and the per-event lengths."""
        store = cls.__new__(cls)
        store.lengths = np.asarray(lengths, dtype=np.int64)
        store.offsets = np.zeros(len(store.lengths), dtype=np.int64)
        if len(store.lengths):
            store.offsets[1:] = np.cumsum(store.lengths)[:-1]
        store._flat = np.asarray(flat, dtype=np.int8)
        return store

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def nbytes(self) -> int:
        """Bytes held by the codes and the index."""
        return self._flat.nbytes + self.lengths.nbytes + self.offsets.nbytes

    def windows(self, events: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
        """Random ``length``-bp windows of the given events (uniform start; N-padded past a short event's end).

        Returns
        -------
        ``int8`` codes ``(len(events), length)``.
        """
        events = np.asarray(events, dtype=np.int64)
        lengths = self.lengths[events]
        room = np.maximum(lengths - length, 0)
        starts = self.offsets[events] + (rng.random(len(events)) * (room + 1)).astype(np.int64)
        positions = starts[:, None] + np.arange(length, dtype=np.int64)
        inside = np.arange(length)[None, :] < lengths[:, None]
        positions = np.where(inside, positions, 0)
        codes = self._flat[positions] if self._flat.size else np.full(positions.shape, N_CODE, np.int8)
        return np.where(inside, codes, np.int8(N_CODE)).astype(np.int8, copy=False)
