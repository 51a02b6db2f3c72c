"""Peak regions: coordinates from ``var`` columns or from peak names, with clear errors.

Coordinates are 0-based, half-open (BED convention) everywhere in seqatac. Peak names such as
``chr1:100-200`` are read as BED-style too (start 0-based, end exclusive), which is how 10x
CellRanger(-ATAC/-ARC) writes them from its ``peaks.bed``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._errors import SeqatacInputError
from .._keys import CHROM, END, START

# var column names recognised (case-insensitively) for each coordinate, in order of preference
_COLUMN_ALIASES = {CHROM: (CHROM, "chr", "seqnames"), START: (START,), END: (END,)}

# `chr1:100-200`, `chr1-100-200`, `chr1_100_200`; the greedy chromosome group makes the two numbers
# come from the right, so `chrUn_gl000220:1-5` and `chr1_KI270706v1_random-10-20` parse.
# a chromosome name does not end in a separator, so "chr1:-500-2500" (a negative start) does not parse
_NAME_PATTERN = r"^(?P<chrom>.*[^:_-])[:_-](?P<start>\d+)[_-](?P<end>\d+)$"
_N_EXAMPLES = 3
# no chromosome is longer than this; a float holds every whole number below it exactly
_MAX_POSITION = 2**53


def parse_regions(var: pd.DataFrame | pd.Index | Sequence[str], *, unique: bool = True) -> pd.DataFrame:
    """Peak coordinates from ``var`` columns or, when absent, from the peak names.

    Columns ``chrom``/``chr``/``seqnames``, ``start`` and ``end`` are matched case-insensitively and
    read as 0-based, half-open coordinates. Without them, names like ``chr1:100-200``,
    ``chr1-100-200`` or ``chr1_100_200`` are parsed from the right (so chromosome names may contain
    ``_``) and read BED-style, as 10x CellRanger writes them: ``chr1:100-200`` covers bases 100..199
    (0-based).

    Parameters
    ----------
    var
        ``adata.var`` (n_peaks rows), or the peak names alone (``adata.var_names`` or a list).
    unique
        Refuse repeated intervals (peaks must be distinct; a gene table may repeat one, e.g. a
        read-through gene spanning exactly its partner).

    Returns
    -------
    DataFrame (n_peaks, 3) indexed by the peak names, columns ``chrom`` (str), ``start`` and ``end``
    (int64).

    Raises
    ------
    SeqatacInputError
        No coordinates at all, unparsable names, non-integer, negative or empty (end <= start)
        coordinates, or duplicated peaks (when ``unique``).
    """
    if isinstance(var, pd.DataFrame):
        names = pd.Index(var.index.astype(str))
        columns = coordinate_columns(var)
    else:
        names = pd.Index([str(name) for name in var], dtype=object)
        columns = {}
    if len(columns) == 3:
        chrom = var[columns[CHROM]]
        start = _as_int64(var[columns[START]], names, columns[START])
        end = _as_int64(var[columns[END]], names, columns[END])
        source = f"var columns {list(columns.values())}"
    else:
        chrom, start, end = _parse_names(names, partial_columns=columns)
        source = "peak names"
    chrom = pd.Series(np.asarray(chrom, dtype=object))
    missing = (chrom.isna() | (chrom.astype(str).str.strip() == "")).to_numpy()
    chrom = chrom.astype(str).to_numpy(dtype=object)
    if missing.any():
        _fail(
            "have no chromosome name", names, missing,
            f"fill in the chromosome of every peak in the {source}",
        )
    regions = pd.DataFrame({CHROM: chrom, START: start, END: end}, index=names)
    _check_intervals(regions, columns, unique=unique)
    return regions


def coordinate_columns(var: pd.DataFrame) -> dict[str, str]:
    """Map each of chrom/start/end to the var column that holds it (only those found)."""
    by_lower = {}
    for column in var.columns:
        by_lower.setdefault(str(column).lower(), column)
    found = {}
    for key, aliases in _COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in by_lower:
                found[key] = by_lower[alias]
                break
    return found


def _split_names(names: pd.Index) -> pd.DataFrame:
    """Regex split of names into chrom/start/end strings (NaN rows where a name does not match)."""
    return pd.Series(names, dtype=object).astype(str).str.extract(_NAME_PATTERN)


def parse_intervals(names: pd.Index | Sequence[str]) -> pd.DataFrame:
    """Leniently parse ``chr1:100-200``-style strings; unparsable ones give missing values.

    Used for annotations (e.g. 10x gene ``interval``), not for peaks, which must all parse.

    Returns
    -------
    DataFrame (n, 3): ``chrom`` (object, None where missing), ``start``/``end`` (nullable Int64).
    """
    parts = _split_names(pd.Index(names))
    return pd.DataFrame(
        {
            CHROM: parts["chrom"].astype(object).where(parts["chrom"].notna(), None).to_numpy(),
            START: pd.array(pd.to_numeric(parts["start"]), dtype="Int64"),
            END: pd.array(pd.to_numeric(parts["end"]), dtype="Int64"),
        },
        index=pd.Index(names),
    )


def _parse_names(names: pd.Index, *, partial_columns: dict[str, str]):
    """Coordinates from peak names; raise if none or only some of them parse."""
    parts = _split_names(names)
    unparsed = parts["chrom"].isna().to_numpy()
    if len(names) and unparsed.all():
        found = ""
        if partial_columns:
            missing = [key for key in _COLUMN_ALIASES if key not in partial_columns]
            found = (
                f" var has {sorted(map(str, partial_columns.values()))} but no column for "
                f"{missing}."
            )
        raise SeqatacInputError(
            f"No peak coordinates found: var has no chrom/start/end columns and none of the "
            f"{len(names)} peak names look like 'chr1:100-200' (e.g. {_examples(names)}).{found} "
            f"Fix: add var columns 'chrom', 'start', 'end' (0-based, half-open), or name the peaks "
            f"like chr1:100-200, chr1-100-200 or chr1_100_200."
        )
    if unparsed.any():
        _fail(
            "have names that cannot be parsed as coordinates", names, unparsed,
            "rename them like chr1:100-200 (or chr1-100-200, chr1_100_200), or add var columns "
            "'chrom', 'start', 'end' for all peaks",
        )
    start = _within_chromosomes(parts["start"].astype(float).to_numpy(), names, "start in the name")
    end = _within_chromosomes(parts["end"].astype(float).to_numpy(), names, "end in the name")
    return parts["chrom"].to_numpy(), start, end


def _as_int64(values: pd.Series, names: pd.Index, column: str) -> np.ndarray:
    """Integer coordinates from a var column; integral floats are accepted, anything else raises."""
    series = pd.Series(values)
    if not pd.api.types.is_numeric_dtype(series):
        series = pd.to_numeric(series.astype(object), errors="coerce")
    numeric = series.to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numeric) | (numeric != np.floor(numeric))
    if bad.any():
        shown = [f"{name!r}: {value!r}" for name, value in zip(names[bad], np.asarray(values)[bad])]
        raise SeqatacInputError(
            f"{int(bad.sum())} of {len(names)} peaks have a non-integer or missing var['{column}'] "
            f"(e.g. {', '.join(shown[:_N_EXAMPLES])}). Fix: coordinates must be whole numbers "
            f"(0-based, half-open); correct or drop those peaks."
        )
    return _within_chromosomes(numeric, names, f"var['{column}']")


def _within_chromosomes(numeric: np.ndarray, names: pd.Index, what: str) -> np.ndarray:
    """Whole-number coordinates (as floats) cast to int64, refusing values past any chromosome (which the
    cast would wrap or round)."""
    huge = np.abs(numeric) >= _MAX_POSITION
    if huge.any():
        shown = [f"{name!r}: {value:.4g}" for name, value in zip(names[huge], numeric[huge])]
        raise SeqatacInputError(
            f"{int(huge.sum())} of {len(names)} peaks have a {what} of 2^53 or more (e.g. "
            f"{', '.join(shown[:_N_EXAMPLES])}), far past the end of any chromosome. Fix: correct or drop those "
            f"peaks (are the coordinates in another unit, or from another column?)."
        )
    return numeric.astype(np.int64)


def _check_intervals(regions: pd.DataFrame, columns: dict[str, str], *, unique: bool) -> None:
    """Reject negative coordinates, empty intervals and (when ``unique``) duplicated peaks."""
    start, end = regions[START].to_numpy(), regions[END].to_numpy()
    names = regions.index
    negative = (start < 0) | (end < 0)
    if negative.any():
        _fail(
            "have negative coordinates", names, negative,
            "coordinates are 0-based positions on the chromosome; correct or drop those peaks",
            regions=regions,
        )
    empty = end <= start
    if empty.any():
        _fail(
            "have end <= start", names, empty,
            "each peak needs end > start (0-based, half-open: chr1:100-200 covers 100 bases); "
            "check whether start and end are swapped, or drop those peaks",
            regions=regions,
        )
    duplicated = regions.duplicated([CHROM, START, END], keep=False).to_numpy()
    if unique and duplicated.any():
        if len(columns) == 3:
            subset = [columns[CHROM], columns[START], columns[END]]
            keep_first = f"adata = adata[:, ~adata.var.duplicated(subset={subset})].copy()`"
        else:
            keep_first = "adata = adata[:, ~adata.var_names.duplicated()].copy()` when names repeat"
        n_unique = int((~regions[duplicated].duplicated([CHROM, START, END])).sum())
        _fail(
            f"are duplicated ({n_unique} interval(s) occur more than once)", names, duplicated,
            f"deduplicate them, keeping one copy of each (e.g. `{keep_first}), or merge their "
            f"counts into one peak",
            regions=regions,
        )


def _examples(names, k: int = _N_EXAMPLES) -> str:
    return ", ".join(repr(str(name)) for name in list(names[:k])) or "none"


def _fail(problem: str, names: pd.Index, mask: np.ndarray, fix: str, *, regions=None):
    """Raise a SeqatacInputError: how many peaks have ``problem``, a few examples, and the fix."""
    bad = names[mask][:_N_EXAMPLES]
    if regions is None:
        shown = _examples(bad)
    else:
        rows = regions.loc[mask].iloc[:_N_EXAMPLES]
        shown = ", ".join(
            f"{name!r} ({chrom}:{start}-{end})"
            for name, chrom, start, end in zip(rows.index, rows[CHROM], rows[START], rows[END])
        )
    raise SeqatacInputError(
        f"{int(mask.sum())} of {len(names)} peaks {problem} (e.g. {shown}). Fix: {fix}."
    )


def chrom_key(name: str) -> str:
    """Canonical chromosome name for matching: no ``chr`` prefix, ``MT`` -> ``M``."""
    key = name[3:] if name[:3].lower() == "chr" else name
    return "M" if key.upper() in ("M", "MT") else key


def chromosome_key(chrom) -> np.ndarray:
    """Chromosome names reduced to the key :class:`~seqatac.data.Genome` matches on
    (``chr`` prefix dropped, ``MT`` → ``M``), for an array of names."""
    names = pd.Series(np.asarray(chrom, dtype=object)).astype(str)
    return names.map({name: chrom_key(name) for name in names.unique()}).to_numpy(dtype=object)


def overlapping_pairs(
    query_chrom, query_start, query_end, subject_chrom, subject_start, subject_end
) -> tuple[np.ndarray, np.ndarray]:
    """All (query, subject) pairs of half-open intervals that overlap by at least 1 bp.

    Vectorised per chromosome: subjects sorted by start, candidate ranges found with
    ``searchsorted`` (start < query end, start > query start − longest subject), then filtered on
    end > query start. Chromosome names are compared after :func:`chromosome_key`.

    Returns
    -------
    query_index, subject_index : ``int64`` arrays of equal length.
    """
    query_key, subject_key = chromosome_key(query_chrom), chromosome_key(subject_chrom)
    query_start, query_end = np.asarray(query_start, np.int64), np.asarray(query_end, np.int64)
    subject_start, subject_end = np.asarray(subject_start, np.int64), np.asarray(subject_end, np.int64)
    query_hits, subject_hits = [], []
    for key in np.intersect1d(query_key, subject_key):
        subjects = np.flatnonzero(subject_key == key)
        subjects = subjects[np.argsort(subject_start[subjects], kind="stable")]
        starts, ends = subject_start[subjects], subject_end[subjects]
        longest = int((ends - starts).max())
        queries = np.flatnonzero(query_key == key)
        first = np.searchsorted(starts, query_start[queries] - longest, side="right")
        stop = np.searchsorted(starts, query_end[queries], side="left")
        n_candidates = np.maximum(stop - first, 0)
        owner = np.repeat(queries, n_candidates)
        position = np.repeat(first - np.cumsum(n_candidates) + n_candidates, n_candidates)
        position += np.arange(n_candidates.sum())
        hit = ends[position] > query_start[owner]
        query_hits.append(owner[hit])
        subject_hits.append(subjects[position[hit]])
    if not query_hits:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(query_hits), np.concatenate(subject_hits)
