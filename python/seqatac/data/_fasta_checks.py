"""Checks of a FASTA file and its ``.fai`` index before pyfaidx reads them, so that a wrong file gets an error
naming what it is, and an index that belongs to another version of the file is never trusted."""

from __future__ import annotations

import os
from pathlib import Path

from .._errors import SeqatacInputError

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_RECORDS_CHECKED = 20_000  # index lines checked against the FASTA (evenly spread beyond this)
_HEAD_CHECKED = 1 << 16  # bytes of a plain FASTA whose line ends and sequence lines are checked


def check_fasta_file(path: Path) -> None:
    """Refuse what is not a FASTA the reader can use: a directory, an HDF5/h5ad file, plain gzip, binary data."""
    if path.is_dir():
        raise SeqatacInputError(
            f"{str(path)!r} is a directory, not a FASTA file. Fix: pass the genome FASTA inside it (e.g. "
            f"{str(path / 'genome.fa')!r})."
        )
    with open(path, "rb") as handle:
        head = handle.read(_HEAD_CHECKED)
    if head.startswith(_HDF5_MAGIC):
        raise SeqatacInputError(
            f"{str(path)!r} is an HDF5 file (an .h5ad or 10x .h5?), not a FASTA. Fix: pass the genome FASTA the "
            "peaks were called on as the genome, and the data file as the data."
        )
    if head.startswith(_GZIP_MAGIC):
        if not _is_bgzf(head):
            raise SeqatacInputError(
                f"{str(path)!r} is compressed with plain gzip, which cannot be read at random positions. Fix: "
                f"recompress it with bgzip (`gunzip -c {path} | bgzip > {path.with_suffix('.bgz')}`) or "
                "decompress it (`gunzip`)."
            )
        return
    text = head.lstrip()
    if text and not text.startswith(b">"):
        shown = text[:20].decode("ascii", errors="replace")
        raise SeqatacInputError(
            f"{str(path)!r} is not a valid FASTA: it starts with {shown!r}, not a '>name' header line. Fix: pass a "
            "plain or bgzip-compressed FASTA whose records start with '>'."
        )
    _check_lines(path, head)


def _check_lines(path: Path, head: bytes) -> None:
    """Refuse line ends the index cannot see (CR only) and blanks inside sequence lines, which the index counts
    as bases, so that every coordinate after them would be shifted."""
    if b"\r" in head and b"\n" not in head:
        raise SeqatacInputError(
            f"{str(path)!r} ends its lines with CR alone (old Mac line ends), so it reads as one header line and no "
            f"sequence. Fix: convert them to LF (`tr '\\r' '\\n' < {path} > fixed.fa`)."
        )
    lines = head.split(b"\n")[:-1] if len(head) == _HEAD_CHECKED else head.split(b"\n")
    for number, line in enumerate(lines, 1):
        line = line.rstrip(b"\r")
        if line.startswith(b">") or not line:
            continue
        if any(blank in line for blank in (b" ", b"\t", b"\v", b"\f")):
            raise SeqatacInputError(
                f"{str(path)!r} has blanks inside sequence line {number} ({line[:40].decode('ascii', 'replace')!r}"
                "...); the FASTA index would count them as bases and shift every position after them. Fix: remove "
                f"them (`sed '/^>/!s/[[:blank:]]//g' {path} > fixed.fa`)."
            )


def _is_bgzf(head: bytes) -> bool:
    """BGZF = gzip with the FEXTRA flag and a 'BC' extra subfield (SAM specification, section 4.1)."""
    return len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC"


def stale_index_reason(path: Path, index: Path) -> str | None:
    """Why the ``.fai`` beside a plain FASTA does not describe it (``None`` when it does, or cannot be told).

    Every record (up to 20,000, evenly spread) must end inside the file, start right after its own
    ``>name`` header line, and be followed by a line end or the file's end.
    """
    if not index.is_file() or path.suffix in (".gz", ".bgz") or os.path.getmtime(index) < os.path.getmtime(path):
        return None  # pyfaidx builds or rebuilds those itself
    try:
        rows = [line.split("\t") for line in index.read_text().splitlines() if line.strip()]
        entries = [(row[0], int(row[1]), int(row[2]), int(row[3]), int(row[4])) for row in rows]
    except (ValueError, IndexError, UnicodeDecodeError):
        return "it is not a tab-separated faidx index (name, length, offset, line bases, line width)"
    if not entries:
        return "it lists no sequence"
    size = path.stat().st_size
    step = max(1, len(entries) // _MAX_RECORDS_CHECKED)
    with open(path, "rb") as handle:
        for name, length, offset, line_bases, line_width in entries[::step]:
            if length < 0 or offset < 1 or line_bases < 1 or line_width < line_bases:
                return f"its line for {name!r} holds impossible numbers"
            full_lines, rest = divmod(length, line_bases)
            end = offset + full_lines * line_width + rest
            if end > size:
                return f"{name!r} would end at byte {end:,} of a {size:,}-byte file"
            handle.seek(max(0, offset - len(name) - 2 - 4096))
            before = handle.read(offset - handle.tell())
            header = before[before.rfind(b">", 0, len(before) - 1) + 1:].split(b"\n")[0].split()
            if not before.endswith(b"\n") or not header or header[0].decode(errors="replace") != name:
                return f"{name!r} does not start right after its '>{name}' header line"
            handle.seek(end)  # just past the last base, or at the next line when the last line is full
            after = handle.read(1)
            if after not in (b"", b"\n", b"\r", b">"):
                return f"{name!r} continues past the length the index gives it ({length:,} bp)"
    return None
