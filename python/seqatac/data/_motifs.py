"""Transcription-factor motifs: the Motif class, JASPAR via pyjaspar, motif file readers, scanning."""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from .._errors import SeqatacInputError
from .._utils import check_random_state
from ._sequence import check_codes, one_hot

logger = logging.getLogger(__name__)

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


# --------------------------------------------------------------------------------------------- readers

_PROBABILITY_TOLERANCE = 0.02
_FORMATS = ("meme", "jaspar", "homer")
_EXTENSIONS = {".meme": "meme", ".jaspar": "jaspar", ".pfm": "jaspar", ".homer": "homer", ".motif": "homer",
               ".motifs": "homer"}


class _MotifFile:
    """Lines of a motif file plus error reporting that names the file, motif and line."""

    def __init__(self, path, format_name: str):
        self.path = Path(path)
        self.format_name = format_name
        try:
            self.lines = self.path.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise SeqatacInputError(
                f"cannot read motif file {str(self.path)!r} ({err}); check the path and that it is a text file."
            ) from None

    def error(self, what: str, *, motif: str | None = None, line: int | None = None) -> SeqatacInputError:
        where = [str(self.path)]
        if motif is not None:
            where.append(f"motif {motif!r}")
        if line is not None:
            where.append(f"line {line + 1}")
        return SeqatacInputError(
            f"{', '.join(where)}: {what}. Fix the file so that it follows the {self.format_name.upper()} "
            "motif format, or pass format= if it was detected wrongly."
        )

    def numbers(self, fields: list[str], *, motif: str, line: int) -> list[float]:
        try:
            return [float(f) for f in fields]
        except ValueError:
            raise self.error(f"non-numeric value in {' '.join(fields)!r}", motif=motif, line=line) from None

    def probability_motif(self, motif_id: str, name: str, rows: list[list[float]], lines: list[int]) -> Motif:
        """Motif from (L, 4) probability rows; sums within 0.02 of 1 are renormalised, others rejected."""
        if not rows:
            raise self.error("motif has no positions (zero length)", motif=motif_id, line=lines[0] if lines else None)
        pfm = np.asarray(rows, dtype=np.float64)
        sums = pfm.sum(axis=1)
        bad = np.flatnonzero(~(np.abs(sums - 1.0) <= _PROBABILITY_TOLERANCE) | (pfm < 0).any(axis=1))
        if bad.size:
            row = int(bad[0])
            raise self.error(f"probability row {rows[row]} sums to {sums[row]:.4g}, expected 1 (+/- 0.02) with no "
                             "negative values", motif=motif_id, line=lines[row])
        return Motif(motif_id, name, pfm / sums[:, None])


def read_meme(path) -> list[Motif]:
    """Read a MEME (minimal) motif file: ``MOTIF id [name]`` then a ``letter-probability matrix`` block.

    Returns
    -------
    Motifs in file order, PFMs ``(L, 4)`` as given (rows renormalised).
    """
    file = _MotifFile(path, "meme")
    lines, motifs, i = file.lines, [], 0
    while i < len(lines):
        fields = lines[i].split()
        if fields and fields[0].startswith("ALPHABET=") and "".join(fields)[len("ALPHABET="):].upper() != "ACGT":
            raise file.error(f"alphabet {lines[i].strip()!r} is not DNA (ACGT)", line=i)
        if not fields or fields[0] != "MOTIF":
            i += 1
            continue
        if len(fields) < 2:
            raise file.error("MOTIF line without an identifier", line=i)
        motif_id = fields[1]
        name = fields[2] if len(fields) > 2 else motif_id
        header = i + 1
        while header < len(lines) and not lines[header].lstrip().startswith(("letter-probability", "MOTIF")):
            header += 1
        if header == len(lines) or not lines[header].lstrip().startswith("letter-probability"):
            raise file.error("no 'letter-probability matrix' line", motif=motif_id, line=i)
        spec = dict(re.findall(r"(\w+)=\s*(\S+)", lines[header]))
        if spec.get("alength", "4") != "4":
            raise file.error(f"alength={spec['alength']}, expected 4 (DNA)", motif=motif_id, line=header)
        width = int(spec["w"]) if "w" in spec and spec["w"].isdigit() else None
        rows, row_lines, i = [], [], header + 1
        while i < len(lines) and (width is None or len(rows) < width):
            fields = lines[i].split()
            if not fields:
                if width is None and rows:
                    break
                i += 1
                continue
            if fields[0] in ("MOTIF", "URL") or (width is None and not _is_number(fields[0])):
                break
            if len(fields) != 4:
                raise file.error(f"row has {len(fields)} values, expected 4", motif=motif_id, line=i)
            rows.append(file.numbers(fields, motif=motif_id, line=i))
            row_lines.append(i)
            i += 1
        if width is not None and len(rows) < width:
            raise file.error(f"truncated: w={width} but only {len(rows)} rows", motif=motif_id, line=i - 1)
        motifs.append(file.probability_motif(motif_id, name, rows, row_lines or [header]))
    if not motifs:
        raise file.error("no motifs found (expected 'MOTIF' entries)")
    return motifs


def read_jaspar(path) -> list[Motif]:
    """Read JASPAR count files.

    Handles multi-motif ``.jaspar`` files (``>ID NAME`` headers, then ``A [ ... ]`` rows for A, C, G, T) and
    plain ``.pfm`` files (4 rows of counts in the order A, C, G, T, no letters, with or without a header;
    without one, id and name are the file name stem). Counts are normalised to probabilities.
    """
    file = _MotifFile(path, "jaspar")
    blocks: list[tuple[str, str, int, list[int]]] = []  # id, name, header line, row lines
    for i, line in enumerate(file.lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(">"):
            fields = stripped[1:].split(None, 1)
            if not fields:
                raise file.error("header '>' without an identifier", line=i)
            blocks.append((fields[0], fields[1].strip() if len(fields) > 1 else fields[0], i, []))
        else:
            if not blocks:
                blocks.append((file.path.stem, file.path.stem, i, []))
            blocks[-1][3].append(i)
    motifs = []
    for motif_id, name, header, row_lines in blocks:
        if len(row_lines) != 4:
            raise file.error(f"found {len(row_lines)} count rows, expected 4 (A, C, G, T)", motif=motif_id,
                             line=row_lines[-1] if row_lines else header)
        rows, letters = [], []
        for i in row_lines:
            fields = file.lines[i].replace("[", " ").replace("]", " ").split()
            if fields and fields[0].upper() in ("A", "C", "G", "T"):
                letters.append(fields.pop(0).upper())
            rows.append(file.numbers(fields, motif=motif_id, line=i))
        if letters and sorted(letters) != list("ACGT"):
            raise file.error(f"row letters {letters}, expected A, C, G, T", motif=motif_id, line=row_lines[0])
        order = [letters.index(b) for b in "ACGT"] if letters else [0, 1, 2, 3]
        lengths = [len(r) for r in rows]
        if len(set(lengths)) != 1:
            row = next(k for k in range(4) if lengths[k] != lengths[0])
            raise file.error(f"rows have different lengths {lengths}", motif=motif_id, line=row_lines[row])
        if lengths[0] == 0:
            raise file.error("motif has no positions (zero length)", motif=motif_id, line=row_lines[0])
        counts = np.asarray([rows[k] for k in order], dtype=np.float64).T
        bad = (counts < 0) | ~np.isfinite(counts)
        if bad.any():
            column = int(np.argwhere(bad)[0, 1])
            raise file.error("negative or non-finite count", motif=motif_id, line=row_lines[order[column]])
        empty = np.flatnonzero(counts.sum(axis=1) <= 0)
        if empty.size:
            raise file.error(f"position {int(empty[0]) + 1} has no counts", motif=motif_id, line=row_lines[0])
        motifs.append(Motif.from_counts(motif_id, name, counts))
    if not motifs:
        raise file.error("no motifs found (expected '>ID NAME' headers and 4 count rows)")
    return motifs


def read_homer(path) -> list[Motif]:
    """Read a HOMER motif file: ``>consensus<TAB>name<TAB>score...`` headers then L rows of A, C, G, T probabilities.

    The id is the full HOMER name (e.g. ``CTCF(Zf)/CD4+-CTCF-ChIP-Seq/Homer``), the name its part before the
    first ``/``; without a name field both are the consensus.
    """
    file = _MotifFile(path, "homer")
    motifs: list[tuple[str, str, int, list[int]]] = []
    for i, line in enumerate(file.lines):
        if not line.strip():
            continue
        if line.startswith(">"):
            fields = line[1:].rstrip("\n").split("\t")
            label = fields[1].strip() if len(fields) > 1 and fields[1].strip() else fields[0].strip()
            motifs.append((label, label.split("/")[0], i, []))
        elif not motifs:
            raise file.error("data before the first '>' header", line=i)
        else:
            motifs[-1][3].append(i)
    result = []
    for motif_id, name, header, row_lines in motifs:
        rows = []
        for i in row_lines:
            fields = file.lines[i].split()
            if len(fields) != 4:
                raise file.error(f"row has {len(fields)} values, expected 4", motif=motif_id, line=i)
            rows.append(file.numbers(fields, motif=motif_id, line=i))
        result.append(file.probability_motif(motif_id, name, rows, row_lines or [header]))
    if not result:
        raise file.error("no motifs found (expected '>consensus<TAB>name' headers)")
    return result


def read_motifs(path, *, format: str | None = None) -> list[Motif]:
    """Read a MEME, JASPAR/PFM or HOMER motif file.

    Parameters
    ----------
    path
        Motif file.
    format
        ``"meme"``, ``"jaspar"`` (also plain ``.pfm``) or ``"homer"``; by default from the extension
        (``.meme``, ``.jaspar``, ``.pfm``, ``.motif``/``.motifs``/``.homer``), else from the content.

    Returns
    -------
    list of :class:`Motif`.
    """
    path = Path(path)
    if format is None:
        format = _EXTENSIONS.get(path.suffix.lower()) or _sniff_format(_MotifFile(path, "motif"))
    format = format.lower()
    readers = {"meme": read_meme, "jaspar": read_jaspar, "pfm": read_jaspar, "homer": read_homer}
    if format not in readers:
        raise SeqatacInputError(f"unknown motif format {format!r}; use one of {', '.join(readers)}.")
    return readers[format](path)


def _sniff_format(file: _MotifFile) -> str:
    content = [line.strip() for line in file.lines if line.strip()]
    if not content:
        raise SeqatacInputError(f"motif file {str(file.path)!r} is empty; pass a MEME, JASPAR or HOMER motif file.")
    if any(line.startswith("MEME version") or line.startswith("MOTIF ") for line in content):
        return "meme"
    first = content[1] if content[0].startswith(">") and len(content) > 1 else content[0]
    fields = first.replace("[", " ").replace("]", " ").split()
    if fields and fields[0].upper() in ("A", "C", "G", "T"):
        return "jaspar"
    if content[0].startswith(">") and len(fields) == 4 and all(_is_number(f) for f in fields):
        if abs(sum(float(f) for f in fields) - 1.0) <= _PROBABILITY_TOLERANCE:
            return "homer"
    if fields and all(_is_number(f) for f in fields):
        return "jaspar"
    raise SeqatacInputError(
        f"cannot tell the motif format of {str(file.path)!r}; pass format='meme', 'jaspar' or 'homer'."
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------- scanning

_SCORE_RESOLUTION = 0.01  # bits; grid for p-value thresholds (the MOODS / TFM-Pvalue discretisation)
_SCAN_BUDGET = 2**25  # float32 elements of convolution output held at once (128 MiB)
_MOTIFS_PER_CONV = 128


def score_threshold(motif: Motif, *, p_value: float = 5e-5, background=None) -> float:
    """Log-odds score threshold at which a random sequence matches with probability at most ``p_value``.

    The PWM (``motif.pwm(background=background)``) is rounded to a grid of 0.01 bits, and the exact
    distribution of the window score under i.i.d. ``background`` bases is computed by dynamic programming
    over that grid (the TFM-Pvalue / MOODS approach). The threshold is the lowest achievable score ``t``
    with ``P(score >= t) <= p_value``; when even the best score is more frequent than that (short motifs),
    it is the best score, so only best-scoring words match. :func:`motif_matches` scans with the same
    rounded PWM, so the p-value is exact for the scores it compares.

    Returns
    -------
    float threshold in bits (a multiple of the grid step).
    """
    if not 0 < p_value < 1:
        raise SeqatacInputError(f"p_value must be in (0, 1), got {p_value}; chromVAR's default is 5e-5.")
    background = check_background(background)
    return _threshold_units(_grid_pwm(motif, background), background, p_value) * _SCORE_RESOLUTION


def _grid_pwm(motif: Motif, background: np.ndarray) -> np.ndarray:
    """PWM in integer units of ``_SCORE_RESOLUTION`` bits, ``(L, 4)`` int64."""
    return np.round(motif.pwm(background=background) / _SCORE_RESOLUTION).astype(np.int64)


def _threshold_units(scores: np.ndarray, background: np.ndarray, p_value: float) -> int:
    offset = 0
    probability = np.ones(1)  # probability[k] = P(score of the prefix == offset + k)
    for row in scores:
        low = row.min()
        grown = np.zeros(probability.size + row.max() - low)
        for base in range(4):
            shift = row[base] - low
            grown[shift:shift + probability.size] += probability * background[base]
        probability, offset = grown, offset + low
    tail = np.cumsum(probability[::-1])[::-1]  # tail[k] = P(score >= offset + k)
    passing = np.flatnonzero((tail <= p_value * (1 + 1e-9)) & (probability > 0))
    if passing.size == 0:
        logger.debug("motif too short for p=%g: threshold set to its best score", p_value)
        return int(offset + probability.size - 1)
    return int(offset + passing[0])


def _resolve_background(background, codes: np.ndarray) -> np.ndarray:
    if isinstance(background, str):
        if background != "subject":
            raise SeqatacInputError(f"background={background!r} is not supported; pass 'subject', None or 4 "
                                    "frequencies for A, C, G, T.")
        counts = np.bincount(codes.ravel(), minlength=5)[:4] + 1.0
        return counts / counts.sum()
    return check_background(background)


def _as_code_matrix(codes) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim == 1:
        codes = codes[None]
    if codes.ndim != 2:
        raise SeqatacInputError(f"codes must have shape (n, L) or (L,), got {codes.shape}; "
                                "encode sequences with seqatac.data.encode_sequence or Genome.encode_regions.")
    check_codes(codes)
    return codes


def _scan_max(codes: np.ndarray, pwms: list[np.ndarray], batch_size: int) -> np.ndarray:
    """Best score over positions and both strands, ``(n, len(pwms))`` float32.

    Motifs are grouped by length and zero-padded to the longest in their group; sequences are padded on
    the right, and window starts past ``L - length`` are masked, so no window runs past the sequence end.
    An N position (an all-zero one-hot column) contributes 0. A motif longer than the sequence scores -inf.
    """
    import torch

    n, seq_len = codes.shape
    lengths = np.array([p.shape[0] for p in pwms])
    result = np.full((n, len(pwms)), -np.inf, dtype=np.float32)
    order = np.argsort(lengths, kind="stable")
    if n == 0 or seq_len == 0:
        return result
    with torch.inference_mode():
        for group in np.array_split(order, max(1, -(-len(order) // _MOTIFS_PER_CONV))):
            if group.size == 0:
                continue
            width = int(lengths[group].max())
            weight = np.zeros((2 * group.size, 4, width), dtype=np.float32)
            for k, m in enumerate(group):
                weight[k, :, : lengths[m]] = pwms[m].T
                weight[group.size + k, :, : lengths[m]] = pwms[m][::-1, ::-1].T
            weight = torch.from_numpy(weight)
            invalid = torch.from_numpy(np.arange(seq_len)[None, :] > (seq_len - lengths[group])[:, None])
            step = max(1, min(batch_size, _SCAN_BUDGET // (2 * group.size * max(seq_len, 1))))
            for start in range(0, n, step):
                x = torch.from_numpy(one_hot(codes[start:start + step]))
                x = torch.nn.functional.pad(x, (0, width - 1))
                out = torch.nn.functional.conv1d(x, weight)
                best = torch.maximum(out[:, : group.size], out[:, group.size:]).masked_fill_(invalid, -np.inf)
                result[start:start + step, group] = best.amax(dim=2).numpy()
    return result


def motif_scores(codes, motifs: list[Motif], *, background=None, batch_size: int = 4096) -> np.ndarray:
    """Best log-odds score of each motif in each sequence, over all positions and both strands.

    Parameters
    ----------
    codes
        Integer codes ``(n, L)`` (or one sequence ``(L,)``). N contributes 0 (background odds).
    motifs
        Motifs to scan; scored with ``motif.pwm(background=background)``.
    background
        Base frequencies for the log-odds; ``None`` is uniform, ``"subject"`` the frequencies in ``codes``.
    batch_size
        Maximum number of sequences per convolution (lowered automatically to bound memory).

    Returns
    -------
    ``float32`` array ``(n, n_motifs)``; -inf where a motif is longer than the sequences.
    """
    codes = _as_code_matrix(codes)
    background = _resolve_background(background, codes)
    return _scan_max(codes, [m.pwm(background=background) for m in motifs], batch_size)


def motif_matches(codes, motifs: list[Motif], *, p_value: float = 5e-5, background=None,
                  batch_size: int = 4096) -> sparse.csr_matrix:
    """Which sequences contain a match to each motif (chromVAR / motifmatchr semantics).

    A sequence matches a motif when its best window score on either strand reaches
    :func:`score_threshold` at ``p_value``; scores use the same 0.01-bit grid as the threshold.

    Parameters
    ----------
    codes
        Integer codes ``(n, L)`` (or ``(L,)``).
    motifs
        Motifs to scan.
    p_value
        Per-window match p-value (motifmatchr's default 5e-5).
    background
        Base frequencies for log-odds and p-values; ``None`` is uniform, ``"subject"`` the base frequencies
        in ``codes`` (motifmatchr's default).
    batch_size
        Maximum number of sequences per convolution.

    Returns
    -------
    ``scipy.sparse.csr_matrix`` ``(n, n_motifs)``, ``float32`` ones where a sequence contains a match.
    """
    codes = _as_code_matrix(codes)
    background = _resolve_background(background, codes)
    grids = [_grid_pwm(m, background) for m in motifs]
    thresholds = np.array([_threshold_units(g, background, p_value) for g in grids])
    chunks = []
    for start in range(0, codes.shape[0], batch_size):  # sparsify chunk by chunk: memory stays bounded
        scores = _scan_max(codes[start:start + batch_size], [g.astype(np.float64) for g in grids], batch_size)
        chunks.append(sparse.csr_matrix(scores >= thresholds[None, :] - 0.5, dtype=np.float32))  # integer scores
    if not chunks:
        return sparse.csr_matrix((0, len(motifs)), dtype=np.float32)
    return sparse.vstack(chunks, format="csr")


def motif_columns(motifs: Sequence[Motif]) -> list[str]:
    """Column labels for motifs: the TF name, or ``name_id`` for names used by more than one motif."""
    uses = Counter(m.name for m in motifs)
    return [f"{m.name}_{m.id}" if uses[m.name] > 1 else m.name for m in motifs]
