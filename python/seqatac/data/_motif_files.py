"""Reading motif files: MEME, JASPAR/PFM and HOMER, with format detection."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .._errors import SeqatacInputError
from ._motifs import Motif

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
        following = next((j for j in range(i, len(lines)) if lines[j].split()), None)
        if width is not None and following is not None and _is_number(lines[following].split()[0]):
            raise file.error(f"w={width} but more matrix rows follow; fix w= to the number of rows",
                             motif=motif_id, line=following)
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

