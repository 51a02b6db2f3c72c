"""EpiFoundation's tokenizer: a cell is the sequence of its open peaks, in genomic order, after a [CLS].

Peak ids come from a :class:`PeakVocabulary` built over the training peak set (sorted in genomic order, so
sorting token ids sorts peaks along the genome). A new dataset's peaks are mapped onto that vocabulary by
genomic overlap (:meth:`PeakVocabulary.map_regions`); the unmapped fraction is reported and too low a mapped
fraction is an error. (The authors' code looks peaks up by name and silently turns unknown ones into
padding.) Every token also carries a chromosome id (22 autosomes + X + Y, shared with the genes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..._errors import SeqatacInputError
from ..._keys import CHROM, END, START
from ...data import chromosome_key, coordinate_columns, overlapping_pairs

#: Special peak tokens, ids 0..3 (peak ``j`` of the vocabulary is token ``N_SPECIAL + j``).
SPECIAL_TOKENS = ("<pad>", "<mask>", "<cls>", "<eos>")
PAD, MASK, CLS, EOS = range(4)
N_SPECIAL = len(SPECIAL_TOKENS)

#: Chromosome vocabulary: padding, [CLS], any other sequence (chrM, scaffolds), then chr1..22, X, Y.
STANDARD_CHROMOSOMES = tuple([str(i) for i in range(1, 23)] + ["X", "Y"])
CHROM_PAD, CHROM_CLS, CHROM_OTHER = 0, 1, 2
N_CHROMOSOME_IDS = 3 + len(STANDARD_CHROMOSOMES)
_CHROM_ID = {key: 3 + i for i, key in enumerate(STANDARD_CHROMOSOMES)}


def chromosome_ids(chrom) -> np.ndarray:
    """Chromosome id of each name (``chr1``/``1`` → 3, …, ``chrY`` → 26, anything else → 2).

    Parameters
    ----------
    chrom
        Shape (n,): chromosome names.

    Returns
    -------
    ``int64`` array (n,).
    """
    keys = chromosome_key(np.asarray(chrom, dtype=object))
    return np.array([_CHROM_ID.get(str(key).upper(), CHROM_OTHER) for key in keys], dtype=np.int64)


def _genomic_order(regions: pd.DataFrame) -> np.ndarray:
    """Row order sorting peaks by chromosome (1..22, X, Y, then others by name), start, end."""
    keys = chromosome_key(regions[CHROM].to_numpy())
    ids = chromosome_ids(regions[CHROM].to_numpy())
    others = np.unique(keys[ids == CHROM_OTHER]).astype(str)
    rank = np.where(ids != CHROM_OTHER, ids, N_CHROMOSOME_IDS + np.searchsorted(others, keys.astype(str)))
    return np.lexsort((regions[END].to_numpy(), regions[START].to_numpy(), rank))


@dataclass
class PeakMapping:
    """How a dataset's peaks map onto a model's peak vocabulary.

    Attributes
    ----------
    tokens
        Shape (n_peaks,): the vocabulary token of each dataset peak, ``-1`` where none overlaps.
    n_exact, n_overlap, n_unmapped
        Peaks matched on identical coordinates, matched by overlap (largest overlap wins), and unmapped.
    unmapped_examples
        Up to 5 names of unmapped peaks.
    """

    tokens: np.ndarray
    n_exact: int
    n_overlap: int
    n_unmapped: int
    unmapped_examples: list[str] = field(default_factory=list)

    @property
    def mapped_fraction(self) -> float:
        """Share of the dataset's peaks that map onto the vocabulary."""
        total = self.n_exact + self.n_overlap + self.n_unmapped
        return (self.n_exact + self.n_overlap) / total if total else 0.0

    def summary(self) -> str:
        """One line for logs and error messages."""
        total = self.n_exact + self.n_overlap + self.n_unmapped
        return (
            f"{self.n_exact + self.n_overlap:,} of {total:,} peaks ({self.mapped_fraction:.1%}) map onto the "
            f"model's vocabulary ({self.n_exact:,} identical, {self.n_overlap:,} by overlap); "
            f"{self.n_unmapped:,} ({1 - self.mapped_fraction:.1%}) are unmapped and ignored"
            + (f" (e.g. {', '.join(self.unmapped_examples[:3])})" if self.unmapped_examples else "")
        )


class PeakVocabulary:
    """The peaks a model knows, in genomic order; peak ``j`` is token ``N_SPECIAL + j``.

    Parameters
    ----------
    regions
        DataFrame (n_peaks, 3) of ``chrom``, ``start``, ``end`` indexed by peak name (as
        :func:`seqatac.data.parse_regions` returns); it is sorted into genomic order.
    """

    def __init__(self, regions: pd.DataFrame):
        regions = regions[[CHROM, START, END]]
        self.regions = regions.iloc[_genomic_order(regions)].copy()
        self.regions[CHROM] = self.regions[CHROM].astype(str)
        self.regions[[START, END]] = self.regions[[START, END]].astype(np.int64)
        ids = chromosome_ids(self.regions[CHROM].to_numpy())
        specials = np.array([CHROM_PAD, CHROM_OTHER, CHROM_CLS, CHROM_OTHER], dtype=np.int64)
        #: chromosome id of every token, specials included, shape (size,)
        self.token_chromosomes = np.concatenate([specials, ids])

    def __len__(self) -> int:
        return len(self.regions)

    @property
    def size(self) -> int:
        """Number of token ids (peaks + specials)."""
        return N_SPECIAL + len(self.regions)

    def map_regions(self, regions: pd.DataFrame, *, min_mapped_fraction: float = 0.0) -> PeakMapping:
        """Map a dataset's peaks onto the vocabulary by identical coordinates, then by overlap.

        A peak without an identical vocabulary peak takes the overlapping vocabulary peak with the largest
        overlap in bp (ties: the first in genomic order). Chromosome names match loosely (``chr1`` = ``1``).

        Parameters
        ----------
        regions
            DataFrame (n_peaks, 3) of ``chrom``/``start``/``end`` (0-based, half-open).
        min_mapped_fraction
            Raise when fewer than this share of the peaks map.

        Returns
        -------
        :class:`PeakMapping`.

        Raises
        ------
        SeqatacInputError
            The mapped fraction is below ``min_mapped_fraction``.
        """
        n = len(regions)
        query_key = chromosome_key(regions[CHROM].to_numpy())
        query_start = regions[START].to_numpy(np.int64)
        query_end = regions[END].to_numpy(np.int64)
        vocab_key = chromosome_key(self.regions[CHROM].to_numpy())
        vocab_start = self.regions[START].to_numpy()
        vocab_end = self.regions[END].to_numpy()

        tokens = np.full(n, -1, dtype=np.int64)
        exact_index = pd.MultiIndex.from_arrays([vocab_key, vocab_start, vocab_end])
        position = exact_index.get_indexer(pd.MultiIndex.from_arrays([query_key, query_start, query_end]))
        exact = position >= 0
        tokens[exact] = N_SPECIAL + position[exact]

        rest = np.flatnonzero(~exact)
        if rest.size:
            query, subject = overlapping_pairs(
                query_key[rest], query_start[rest], query_end[rest], vocab_key, vocab_start, vocab_end
            )
            overlap = np.minimum(query_end[rest][query], vocab_end[subject]) - np.maximum(
                query_start[rest][query], vocab_start[subject]
            )
            order = np.lexsort((subject, -overlap, query))
            query, subject = query[order], subject[order]
            first = np.r_[True, query[1:] != query[:-1]] if query.size else np.zeros(0, bool)
            tokens[rest[query[first]]] = N_SPECIAL + subject[first]
        unmapped = tokens < 0
        mapping = PeakMapping(
            tokens=tokens,
            n_exact=int(exact.sum()),
            n_overlap=int((~exact & ~unmapped).sum()),
            n_unmapped=int(unmapped.sum()),
            unmapped_examples=[str(name) for name in regions.index[unmapped][:5]],
        )
        if mapping.mapped_fraction < min_mapped_fraction:
            raise SeqatacInputError(
                f"{mapping.summary()}, below min_mapped_fraction={min_mapped_fraction:g}. Fix: use peaks "
                f"called on the same genome build as the model's (its peaks look like "
                f"{self.regions.index[0]!r}; check chromosome names and liftover), re-call peaks on the "
                f"model's peak set, or lower min_mapped_fraction if you accept losing those peaks."
            )
        return mapping

    def to_frame(self) -> pd.DataFrame:
        """The vocabulary as a table (``token``, ``name``, ``chrom``, ``start``, ``end``) for saving."""
        frame = self.regions.reset_index(names="name")
        frame.insert(0, "token", np.arange(N_SPECIAL, self.size))
        return frame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> PeakVocabulary:
        """Rebuild a vocabulary saved by :meth:`to_frame` (token order is checked)."""
        vocabulary = cls(frame.set_index("name")[[CHROM, START, END]])
        if not np.array_equal(vocabulary.regions.index.to_numpy(dtype=str), frame["name"].to_numpy(dtype=str)):
            raise SeqatacInputError("the saved peak vocabulary is not in genomic order; the model file is corrupt.")
        return vocabulary


class GeneVocabulary:
    """The genes a model predicts; gene ``j`` is gene token ``j + 1`` (0 is padding).

    Parameters
    ----------
    names
        Shape (n_genes,): gene names.
    chromosomes
        Shape (n_genes,): chromosome names (None or missing → the "other" chromosome id).
    """

    def __init__(self, names, chromosomes=None):
        self.names = pd.Index(np.asarray(names, dtype=str))
        if self.names.has_duplicates:
            duplicated = self.names[self.names.duplicated()].unique()[:3].tolist()
            raise SeqatacInputError(
                f"the RNA has duplicated gene names (e.g. {duplicated}); make them unique "
                f"(rna.var_names_make_unique()) before building an EpiFoundation model."
            )
        if chromosomes is None:
            chromosomes = np.full(len(self.names), "", dtype=object)
        chromosomes = pd.Series(np.asarray(chromosomes, dtype=object)).fillna("").astype(str).to_numpy()
        self.chromosomes = chromosomes
        #: chromosome id of every gene token, padding first, shape (n_genes + 1,)
        self.token_chromosomes = np.concatenate([[CHROM_PAD], chromosome_ids(chromosomes)])

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_var(cls, var: pd.DataFrame) -> GeneVocabulary:
        """From an RNA ``var`` table; the chromosome comes from a ``chrom``/``chr``/``seqnames`` column."""
        column = coordinate_columns(var).get(CHROM)
        return cls(var.index, None if column is None else var[column].astype(object).to_numpy())

    def indexer(self, names) -> np.ndarray:
        """Position of each name in the vocabulary, ``-1`` for unknown genes."""
        return self.names.get_indexer(pd.Index(np.asarray(names, dtype=str)))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"token": np.arange(1, len(self) + 1), "gene": self.names, CHROM: self.chromosomes})

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> GeneVocabulary:
        return cls(frame["gene"].astype(str).to_numpy(), frame[CHROM].fillna("").astype(str).to_numpy())


@dataclass
class CellTokens:
    """Every cell's peak tokens (CLS excluded), unique and sorted (= genomic order), in CSR layout.

    Attributes
    ----------
    indptr
        Shape (n_cells + 1,): cell ``i`` owns ``tokens[indptr[i]:indptr[i + 1]]``.
    tokens
        Shape (n_tokens,): peak token ids (>= ``N_SPECIAL``).
    """

    indptr: np.ndarray
    tokens: np.ndarray

    @classmethod
    def from_matrix(cls, matrix, peak_tokens: np.ndarray) -> CellTokens:
        """Tokens of the non-zero peaks of each row of a cells × peaks matrix.

        Parameters
        ----------
        matrix
            Shape (n_cells, n_peaks), sparse or dense; values > 0 are open peaks.
        peak_tokens
            Shape (n_peaks,): token of each column, ``-1`` for peaks to ignore. Several columns may share a
            token (overlap mapping); a cell then holds it once.
        """
        matrix = sp.csr_matrix(matrix)
        n_cells = matrix.shape[0]
        rows = np.repeat(np.arange(n_cells, dtype=np.int64), np.diff(matrix.indptr))
        tokens = np.asarray(peak_tokens, dtype=np.int64)[matrix.indices]
        keep = (matrix.data > 0) & (tokens >= 0)
        rows, tokens = rows[keep], tokens[keep]
        order = np.lexsort((tokens, rows))
        rows, tokens = rows[order], tokens[order]
        unique = np.r_[True, (rows[1:] != rows[:-1]) | (tokens[1:] != tokens[:-1])] if rows.size else keep[:0]
        rows, tokens = rows[unique], tokens[unique]
        indptr = np.zeros(n_cells + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_cells), out=indptr[1:])
        return cls(indptr=indptr, tokens=tokens)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_peaks(self) -> np.ndarray:
        """Open (mapped) peaks per cell, shape (n_cells,)."""
        return np.diff(self.indptr)

    def sequence_lengths(self, max_len: int) -> np.ndarray:
        """Input length of each cell with its [CLS] and sampling to ``max_len``, shape (n_cells,)."""
        return np.minimum(self.n_peaks + 1, max_len)

    def sequence(self, cell: int, *, max_len: int, rng: np.random.Generator) -> np.ndarray:
        """One cell's input: [CLS] then its peak tokens in genomic order, at most ``max_len`` in all.

        A cell with more than ``max_len - 1`` open peaks keeps a uniform sample of them, drawn without
        replacement from ``rng`` and put back into genomic order.

        Returns
        -------
        ``int64`` array of length ``min(n_peaks + 1, max_len)``.
        """
        peaks = self.tokens[self.indptr[cell] : self.indptr[cell + 1]]
        if len(peaks) > max_len - 1:
            peaks = peaks[np.sort(rng.choice(len(peaks), size=max_len - 1, replace=False))]
        return np.concatenate([[CLS], peaks])


def pack_sequences(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate token sequences into one packed array.

    Returns
    -------
    tokens
        Shape (sum of lengths,).
    cu_seqlens
        Shape (n_sequences + 1,): sequence ``i`` is ``tokens[cu_seqlens[i]:cu_seqlens[i + 1]]``.
    """
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    cu_seqlens = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    tokens = np.concatenate(sequences).astype(np.int64) if sequences else np.zeros(0, np.int64)
    return tokens, cu_seqlens


def unpad(padded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Packed tokens from a padded ``(n_cells, L)`` array of token ids (``PAD`` = 0 positions dropped).

    Returns
    -------
    tokens, cu_seqlens
        As :func:`pack_sequences`.
    """
    padded = np.asarray(padded)
    return pack_sequences([row[row != PAD] for row in padded])
