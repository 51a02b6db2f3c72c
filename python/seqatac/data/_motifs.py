"""Transcription-factor motifs: the Motif class, JASPAR via pyjaspar, and motif column labels."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._errors import SeqatacInputError
from .._utils import check_random_state

_ROW_TOLERANCE = 1e-3


@dataclass(frozen=True, eq=False)
class Motif:
    """A position frequency matrix.

    Parameters
    ----------
    id
        Stable identifier, e.g. ``"MA0139.2"``.
    name
        Human-readable name, e.g. ``"CTCF"``.
    pfm
        ``(L, 4)`` probabilities, columns A, C, G, T; each row sums to 1 (within 1e-3, then renormalised).
        Stored as a read-only ``float64`` copy.
    """

    id: str
    name: str
    pfm: np.ndarray

    def __post_init__(self):
        pfm = np.array(self.pfm, dtype=np.float64)  # always a private copy
        where = f"motif {self.id!r} ({self.name})"
        if pfm.ndim != 2 or pfm.shape[1] != 4 or pfm.shape[0] < 1:
            raise SeqatacInputError(
                f"{where}: pfm must have shape (L, 4) with L >= 1 (columns A, C, G, T), got {pfm.shape}; "
                "transpose a (4, L) matrix with .T."
            )
        if not np.all(np.isfinite(pfm)) or np.any(pfm < 0):
            row = int(np.flatnonzero(~np.isfinite(pfm).all(axis=1) | (pfm < 0).any(axis=1))[0])
            raise SeqatacInputError(
                f"{where}: row {row} has a negative or non-finite value {pfm[row].tolist()}; "
                "probabilities must be finite and >= 0."
            )
        sums = pfm.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > _ROW_TOLERANCE)
        if bad.size:
            row = int(bad[0])
            raise SeqatacInputError(
                f"{where}: row {row} sums to {sums[row]:.6g}, not 1; "
                "pass probabilities, or build the motif from counts with Motif.from_counts."
            )
        drifted = np.abs(sums - 1.0) > 1e-12  # leave exact rows untouched, so reverse_complement round-trips
        pfm[drifted] /= sums[drifted, None]
        pfm.flags.writeable = False
        object.__setattr__(self, "pfm", pfm)

    @classmethod
    def from_counts(cls, id: str, name: str, counts, *, pseudocount: float = 0.0) -> "Motif":
        """Build a motif from an ``(L, 4)`` count matrix (columns A, C, G, T), adding ``pseudocount`` to each cell."""
        counts = np.asarray(counts, dtype=np.float64) + pseudocount
        if counts.ndim != 2 or counts.shape[1] != 4:
            raise SeqatacInputError(
                f"motif {id!r} ({name}): counts must have shape (L, 4), got {counts.shape}; "
                "transpose a (4, L) matrix with .T."
            )
        sums = counts.sum(axis=1, keepdims=True)
        empty = np.flatnonzero(~(sums[:, 0] > 0))
        if empty.size:
            raise SeqatacInputError(
                f"motif {id!r} ({name}): row {int(empty[0])} has no counts; "
                "fix the count matrix or pass pseudocount > 0."
            )
        return cls(id, name, counts / sums)

    @property
    def length(self) -> int:
        """Number of positions L."""
        return self.pfm.shape[0]

    @property
    def consensus(self) -> str:
        """The most probable base at each position (ties go to the first of A, C, G, T)."""
        return "".join("ACGT"[i] for i in self.pfm.argmax(axis=1))

    def pwm(self, *, background=(0.25, 0.25, 0.25, 0.25), pseudocount: float = 0.01) -> np.ndarray:
        """Log2-odds position weight matrix ``(L, 4)``.

        ``pwm[i, b] = log2(p'[i, b] / background[b])`` with ``p' = (pfm + pseudocount * background) /
        (1 + pseudocount)``, so a zero probability stays finite whenever ``pseudocount > 0``.
        """
        background = check_background(background)
        smoothed = (self.pfm + pseudocount * background) / (1.0 + pseudocount)
        with np.errstate(divide="ignore"):
            return np.log2(smoothed / background)

    def sample(self, *, n: int = 1, random_state=None) -> np.ndarray:
        """Draw ``n`` sequences from the motif, one base per column by its probabilities.

        Returns
        -------
        ``int8`` codes of shape ``(n, L)``.
        """
        rng = check_random_state(random_state)
        boundaries = np.cumsum(self.pfm, axis=1)[:, :3]  # (L, 3): P(A), P(A+C), P(A+C+G)
        draws = rng.random((n, self.length))
        return (draws[:, :, None] >= boundaries[None]).sum(axis=2).astype(np.int8)

    def reverse_complement(self) -> "Motif":
        """The motif on the opposite strand (same id and name)."""
        return Motif(self.id, self.name, self.pfm[::-1, ::-1])

    def __eq__(self, other):
        if not isinstance(other, Motif):
            return NotImplemented
        return self.id == other.id and self.name == other.name and np.array_equal(self.pfm, other.pfm)

    def __hash__(self):
        return hash((self.id, self.name, self.pfm.shape, self.pfm.tobytes()))

    def __repr__(self):
        return f"Motif(id={self.id!r}, name={self.name!r}, length={self.length}, consensus={self.consensus!r})"


def check_background(background) -> np.ndarray:
    """Validate base frequencies (A, C, G, T); ``None`` means uniform. Returns a normalised ``(4,)`` array."""
    if background is None:
        return np.full(4, 0.25)
    background = np.asarray(background, dtype=np.float64)
    if background.shape != (4,) or not np.all(np.isfinite(background)) or np.any(background <= 0):
        raise SeqatacInputError(
            f"background must be 4 positive frequencies for A, C, G, T, got {background.tolist()}; "
            "pass e.g. (0.3, 0.2, 0.2, 0.3) or None for uniform."
        )
    return background / background.sum()


def motif_columns(motifs: Sequence[Motif]) -> list[str]:
    """Column labels for motifs, the same in every seqatac output: the TF name, or ``name_id`` for a name used
    by more than one motif (``HNF4A_MA0114.4``); labels still equal after that are numbered (``_0``, ``_1``...)."""
    return motif_labels([m.name for m in motifs], [m.id for m in motifs])


def motif_labels(names: Sequence[str], ids: Sequence[str]) -> list[str]:
    """:func:`motif_columns` from motif names and ids given separately."""
    uses = Counter(names)
    labels = [f"{name}_{motif_id}" if uses[name] > 1 else name for name, motif_id in zip(names, ids)]
    if len(set(labels)) < len(labels):  # ids repeat too: number every label
        labels = [f"{label}_{k}" for k, label in enumerate(labels)]
    return labels


# --------------------------------------------------------------------------------------------- JASPAR


def jaspar(
    release: str = "JASPAR2024",
    collection: str = "CORE",
    tax_group: str | list[str] | None = "vertebrates",
    species: str | int | list | None = None,
    *,
    ids: list[str] | None = None,
    names: list[str] | None = None,
) -> list[Motif]:
    """Load motifs from a JASPAR release through pyjaspar (offline: pyjaspar ships the databases).

    Parameters
    ----------
    release
        JASPAR release, e.g. ``"JASPAR2024"``.
    collection
        JASPAR collection, e.g. ``"CORE"`` or ``"UNVALIDATED"``.
    tax_group
        Taxonomic group(s) (``"vertebrates"``, ``"insects"``, ...); ``None`` for all.
    species
        NCBI taxonomy id(s), e.g. ``9606``; ``None`` for all.
    ids
        Keep only these matrix ids; a base id (``"MA0139"``) matches any version, a full id
        (``"MA0139.2"``) exactly that one.
    names
        Keep only motifs with these TF names (case-insensitive). With ``ids`` too, the union is kept.

    Returns
    -------
    Motifs (latest version of each matrix), PFMs normalised from the JASPAR counts. The database is read
    once per (release, collection, tax_group, species); later calls only filter the cached motifs.
    """
    motifs = _jaspar_cached(release, collection, _as_key(tax_group), _as_key(species))
    if ids is None and names is None:
        return list(motifs)
    id_hits = {i: [m for m in motifs if m.id == i or m.id.split(".")[0] == i] for i in _as_strings(ids) or []}
    name_hits = {n: [m for m in motifs if m.name.lower() == n.lower()] for n in _as_strings(names) or []}
    missing = [k for k, v in {**id_hits, **name_hits}.items() if not v]
    if missing:
        raise SeqatacInputError(
            f"no {release} {collection} motif (tax_group={tax_group!r}, species={species!r}) matches "
            f"{', '.join(map(repr, missing))}; check the ids (e.g. 'MA0139' or 'MA0139.2') and names "
            "(e.g. 'CTCF'), or widen tax_group/species."
        )
    keep = {id(m) for hits in (*id_hits.values(), *name_hits.values()) for m in hits}
    return [m for m in motifs if id(m) in keep]


def _as_key(value):
    return value if value is None or isinstance(value, (str, int)) else tuple(value)


def _as_strings(value) -> list[str] | None:
    return None if value is None else [str(v) for v in ((value,) if isinstance(value, (str, int)) else value)]


@functools.lru_cache(maxsize=16)
def _jaspar_cached(release, collection, tax_group, species) -> tuple[Motif, ...]:
    """All motifs of one release/collection/taxon selection, read once per process."""
    from pyjaspar import jaspardb

    releases = jaspardb().get_releases()
    if release not in releases:
        raise SeqatacInputError(
            f"unknown JASPAR release {release!r}; pyjaspar ships {', '.join(releases)}. Pass one of those."
        )
    records = jaspardb(release=release).fetch_motifs(
        collection=collection, tax_group=_as_strings(tax_group), species=_as_strings(species)
    )
    motifs = tuple(
        Motif.from_counts(r.matrix_id, r.name, np.array([r.counts[b] for b in "ACGT"], dtype=np.float64).T)
        for r in records
    )
    if not motifs:
        raise SeqatacInputError(
            f"{release} has no motifs for collection={collection!r}, tax_group={tax_group!r}, species={species!r}; "
            "check the spelling (e.g. collection='CORE', tax_group='vertebrates', species=9606)."
        )
    return motifs

