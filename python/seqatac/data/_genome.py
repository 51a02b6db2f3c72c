"""Reference genome access: a FASTA (pyfaidx) or in-memory genome, centred peak windows, sequence caches."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .. import _keys
from .._errors import SeqatacInputError, SeqatacWarning
from .._utils import atomic_path, why_missing
from ._fasta_checks import check_fasta_file, stale_index_reason
from ._regions import chrom_key
from ._sequence import N_CODE, encode_sequence

logger = logging.getLogger(__name__)

_CACHE_FORMAT_VERSION = 1
#: Fractions of regions past their chromosome's end that warn, and that refuse (a wrong genome build).
OFF_CHROMOSOME_WARN = 0.01
OFF_CHROMOSOME_REFUSE = 0.5
#: Regions sampled to check that the genome has bases where the peaks are; the fractions of them reading only N
#: that warn and that refuse (a hard-masked or placeholder FASTA).
_BASES_SAMPLE, ALL_N_WARN, ALL_N_REFUSE = 256, 0.05, 0.5


def _discard_stale_index(path: Path, index: Path) -> None:
    """Delete a ``.fai`` that describes another version of the FASTA (pyfaidx then rebuilds it), or refuse."""
    reason = stale_index_reason(path, index)
    if reason is None:
        return
    try:
        index.unlink()
    except OSError as err:
        raise SeqatacInputError(
            f"the index {str(index)!r} does not match its FASTA ({reason}) and cannot be removed ({err.strerror}). "
            f"Fix: rebuild it with `samtools faidx {path}` as a user who can write there."
        ) from None
    warnings.warn(f"the index {str(index)!r} did not match its FASTA ({reason}); rebuilt it.", SeqatacWarning,
                  stacklevel=3)


class Genome:
    """A reference genome: a FASTA file read through pyfaidx, or sequences held in memory.

    Parameters
    ----------
    fasta_path
        FASTA file (plain or bgzip-compressed). Its ``.fai`` index is built next to it when missing.

    Notes
    -----
    Coordinates are 0-based, half-open. Chromosome names in the data are harmonised to the FASTA's
    (``chr1`` <-> ``1``, ``chrX`` <-> ``X``, ``chrM`` <-> ``MT`` <-> ``M``); positions past a chromosome end
    read as N.
    """

    def __init__(self, fasta_path: str | os.PathLike):
        import pyfaidx

        self.path = Path(fasta_path)
        if not self.path.exists():
            raise SeqatacInputError(f"FASTA file {str(self.path)!r} {why_missing(self.path)}; pass the path of the "
                                    "genome FASTA.")
        check_fasta_file(self.path)
        index = Path(f"{self.path}.fai")
        _discard_stale_index(self.path, index)
        had_index = index.is_file()
        try:
            self._fasta = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=False)
        except pyfaidx.FastaIndexingError as err:
            raise SeqatacInputError(
                f"{str(self.path)!r} is not a valid FASTA ({err}). Fix: pass a plain or bgzip-compressed FASTA whose "
                "records start with '>' and whose sequence lines have one width within each record (re-wrap "
                "them, e.g. `seqkit seq -w 60`)."
            ) from None
        except ValueError as err:  # pyfaidx's duplicate-name check
            raise SeqatacInputError(
                f"the FASTA {str(self.path)!r} has two sequences with one name ({err}). Fix: rename or remove the "
                "duplicated records so that every chromosome name is unique."
            ) from None
        except OSError as err:
            where = (
                f"there is no index {str(index)!r} and it cannot be written beside the FASTA (read-only "
                "directory?)" if not had_index else f"its index {str(index)!r} cannot be read or rebuilt"
            )
            raise SeqatacInputError(
                f"cannot open the FASTA {str(self.path)!r}: {where} ({err}). Fix: symlink the FASTA into a "
                f"writable directory (`ln -s {self.path} <dir>/`) and pass the link, so the index is built "
                f"there, or create the index once with `samtools faidx {self.path}` as a user who can write there."
            ) from None
        self._sequences: dict[str, str] | None = None
        self._arrays: dict[str, np.ndarray] | None = None
        self._init_names({name: len(self._fasta[name]) for name in self._fasta.keys()})

    @classmethod
    def from_dict(cls, sequences: Mapping[str, str]) -> "Genome":
        """In-memory genome from ``{chromosome: sequence}`` (for tests and the simulator)."""
        genome = cls.__new__(cls)
        genome.path = None
        genome._fasta = None
        for name, seq in sequences.items():
            if not isinstance(name, str) or not name or any(c.isspace() for c in name) or not isinstance(seq, str):
                raise SeqatacInputError(
                    f"Genome.from_dict needs non-empty chromosome names without whitespace mapped to str sequences, "
                    f"got {name!r}: {type(seq).__name__}; fix that entry."
                )
        genome._sequences = dict(sequences)
        genome._arrays = {name: encode_sequence(seq) for name, seq in genome._sequences.items()}
        genome._init_names({name: len(seq) for name, seq in genome._sequences.items()})
        return genome

    def _init_names(self, sizes: dict[str, int]) -> None:
        source = repr(str(self.path)) if self.path is not None else "in memory"
        if not any(sizes.values()):
            raise SeqatacInputError(
                f"the genome {source} holds no sequence ({len(sizes)} records, 0 bases). Fix: pass the genome "
                "FASTA, with records like '>chr1' followed by their bases."
            )
        empty = [name for name, size in sizes.items() if size == 0]
        if empty:
            warnings.warn(
                f"{len(empty)} sequence(s) of the genome {source} are empty (e.g. {', '.join(map(repr, empty[:5]))}); "
                "peaks on them read as N.", SeqatacWarning, stacklevel=3,
            )
        self._sizes = sizes
        self._by_key: dict[str, str] = {}
        for name in sizes:
            self._by_key.setdefault(chrom_key(name), name)

    def __repr__(self):
        source = str(self.path) if self.path is not None else "in memory"
        return f"Genome({source}, {len(self._sizes)} chromosomes, {sum(self._sizes.values()):,} bp)"

    @property
    def chrom_sizes(self) -> dict[str, int]:
        """Chromosome name -> length, in FASTA order."""
        return dict(self._sizes)

    @property
    def chromosomes(self) -> list[str]:
        """Chromosome names, in FASTA order."""
        return list(self._sizes)

    # ------------------------------------------------------------------------- names

    def resolve(self, chrom: str) -> str:
        """The FASTA's name for a data chromosome name (``chr1`` <-> ``1``, ``chrM`` <-> ``MT`` <-> ``M``)."""
        chrom = str(chrom)
        if chrom in self._sizes:
            return chrom
        name = self._by_key.get(chrom_key(chrom))
        if name is None:
            self.check_chromosomes([chrom])
        return name

    def check_chromosomes(self, chroms) -> None:
        """Raise :class:`SeqatacInputError` if any chromosome in ``chroms`` has no match in the genome."""
        unique = pd.unique(pd.Series(list(chroms), dtype=object).astype(str))
        missing = [c for c in unique if c not in self._sizes and chrom_key(c) not in self._by_key]
        if missing:
            raise SeqatacInputError(
                f"{len(missing)} chromosome(s) of the regions are not in the genome, e.g. "
                f"{', '.join(map(repr, missing[:5]))}; the genome has {len(self._sizes)} chromosomes such as "
                f"{', '.join(map(repr, self.chromosomes[:5]))}. Use the FASTA of the genome build the peaks were "
                "called on, or rename or drop the peaks on those chromosomes."
            )

    # ------------------------------------------------------------------------- sequences

    def _clip(self, chrom: str, start: int, end: int) -> tuple[str, int, int]:
        name = self.resolve(chrom)
        if end < start:
            raise SeqatacInputError(f"region {chrom}:{start}-{end} ends before it starts; pass end >= start.")
        return name, min(max(start, 0), self._sizes[name]), max(min(end, self._sizes[name]), 0)

    def _raw(self, name: str, lo: int, hi: int) -> str:
        if lo >= hi:
            return ""
        if self._sequences is not None:
            return self._sequences[name][lo:hi]
        return self._fasta[name][lo:hi]

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Sequence of ``chrom:[start, end)`` as stored (case kept), N-padded past either chromosome end.

        ``start`` may be negative and ``end`` past the chromosome length; the result has length ``end - start``.
        """
        name, lo, hi = self._clip(chrom, int(start), int(end))
        seq = self._raw(name, lo, hi)
        left = min(max(lo - start, 0), end - start)
        return "N" * left + seq + "N" * (end - start - left - len(seq))

    def _encode_into(self, row: np.ndarray, name: str, start: int) -> None:
        end = start + row.size
        lo, hi = min(max(start, 0), self._sizes[name]), max(min(end, self._sizes[name]), 0)
        row[:] = N_CODE
        if lo < hi:
            codes = self._arrays[name][lo:hi] if self._arrays is not None else encode_sequence(self._raw(name, lo, hi))
            row[lo - start:hi - start] = codes

    def _windows(self, regions: pd.DataFrame, width: int, check: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """FASTA chromosome names and window starts of the centred windows."""
        if int(width) != width or width < 1:
            raise SeqatacInputError(f"width must be a positive integer, got {width!r}.")
        columns = [_keys.CHROM, _keys.START, _keys.END]
        if not isinstance(regions, pd.DataFrame) or not set(columns) <= set(regions.columns):
            raise SeqatacInputError(
                f"regions must be a DataFrame with columns {columns}; got "
                f"{list(regions.columns) if isinstance(regions, pd.DataFrame) else type(regions).__name__}. "
                "Build them from the peak names or var columns (0-based, half-open)."
            )
        starts = regions[_keys.START].to_numpy(dtype=np.int64)
        ends = regions[_keys.END].to_numpy(dtype=np.int64)
        if np.any(ends < starts):
            bad = int(np.flatnonzero(ends < starts)[0])
            raise SeqatacInputError(
                f"region {bad} ends before it starts ({starts[bad]} > {ends[bad]}); fix its coordinates."
            )
        chroms = regions[_keys.CHROM].astype(str).to_numpy()
        self.check_chromosomes(chroms)
        names = pd.Series(chroms).map({c: self.resolve(c) for c in pd.unique(chroms)}).to_numpy()
        if check:
            self._check_within_chromosomes(names, starts, ends)
            self._check_bases(names, starts, ends)
        centres = (starts + ends) // 2
        return names, centres - int(width) // 2

    def _check_within_chromosomes(self, names: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        """Warn when regions run past their chromosome's end; refuse when most do (another genome build)."""
        sizes = pd.Series(names).map(self._sizes).to_numpy(dtype=np.int64)
        off = ((starts < 0) | (ends > sizes)) & (sizes > 0)  # empty records warned when the genome was read
        n_off = int(off.sum())
        if n_off == 0 or n_off <= OFF_CHROMOSOME_WARN * len(off):
            return
        first = int(np.flatnonzero(off)[0])
        message = (
            f"{n_off:,} of {len(off):,} regions ({n_off / len(off):.0%}) run past the end of their chromosome in "
            f"the genome (e.g. {names[first]}:{starts[first]}-{ends[first]}, but {names[first]} has "
            f"{sizes[first]:,} bp). Is this the genome build the peaks were called on?"
        )
        if n_off > OFF_CHROMOSOME_REFUSE * len(off):
            raise SeqatacInputError(message + " Fix: pass the FASTA of that build (or lift the peaks over).")
        warnings.warn(message + " Their sequence past the end reads as N.", SeqatacWarning, stacklevel=4)

    def _check_bases(self, names: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        """Warn when sampled regions read only N (no A, C, G or T); refuse when most do. Regions past a
        chromosome's end are left to :meth:`_check_within_chromosomes`."""
        sizes = pd.Series(names).map(self._sizes).to_numpy(dtype=np.int64)
        inside = np.flatnonzero((starts >= 0) & (ends <= sizes) & (ends > starts))
        if len(inside) == 0:
            return
        sample = inside[np.unique(np.linspace(0, len(inside) - 1, min(len(inside), _BASES_SAMPLE)).astype(np.int64))]
        empty = []
        for k in sample:
            row = np.empty(int(min(ends[k] - starts[k], 2_000)), dtype=np.int8)
            self._encode_into(row, names[k], int(starts[k]))
            if not (row < N_CODE).any():
                empty.append(int(k))
        if len(empty) <= ALL_N_WARN * len(sample):
            return
        first = empty[0]
        message = (
            f"{len(empty)} of {len(sample)} regions sampled read only N in the genome (e.g. "
            f"{names[first]}:{starts[first]}-{ends[first]}): a hard-masked or placeholder FASTA, or another build?"
        )
        if len(empty) > ALL_N_REFUSE * len(sample):
            raise SeqatacInputError(message + " Fix: pass the unmasked genome FASTA the peaks were called on.")
        warnings.warn(message + " Their sequence carries no information.", SeqatacWarning, stacklevel=4)

    def check_regions(self, regions: pd.DataFrame) -> None:
        """Check regions against the genome: every chromosome present, few regions past a chromosome's end
        (warn above 1%, refuse above 50%: the peaks were probably called on another genome build), and bases
        where they lie (of 256 sampled regions, warn above 5% reading only N, refuse above 50%)."""
        self._windows(regions, 1)

    def iter_encoded(self, regions: pd.DataFrame, *, width: int, batch_size: int = 1024,
                     check: bool = True) -> Iterator[np.ndarray]:
        """Stream integer-coded centred windows in region order.

        Parameters
        ----------
        regions
            DataFrame with ``chrom``/``start``/``end`` columns (0-based, half-open).
        width
            Window width; the window is ``[c - width // 2, c - width // 2 + width)`` with
            ``c = (start + end) // 2``.
        batch_size
            Regions per yielded batch.
        check
            Warn or refuse when regions run past their chromosome's end (:meth:`check_regions`); a caller that
            encodes one set of regions in several calls checks the whole set once and passes False.

        Yields
        ------
        ``int8`` arrays ``(b, width)``, ``b <= batch_size``; N past chromosome ends.
        """
        names, window_starts = self._windows(regions, width, check)
        for first in range(0, len(names), batch_size):
            batch = np.empty((min(batch_size, len(names) - first), int(width)), dtype=np.int8)
            for k, row in enumerate(batch):
                self._encode_into(row, names[first + k], int(window_starts[first + k]))
            yield batch

    def encode_regions(self, regions: pd.DataFrame, *, width: int, check: bool = True) -> np.ndarray:
        """Integer-coded centred windows of all regions, ``int8`` ``(n, width)`` (see :meth:`iter_encoded`)."""
        batches = list(self.iter_encoded(regions, width=width, check=check))
        return np.concatenate(batches) if batches else np.empty((0, int(width)), dtype=np.int8)

    def cache_encoded(self, regions: pd.DataFrame, *, width: int, path: str | os.PathLike) -> np.memmap:
        """Encoded centred windows stored in a ``.npy`` file and memory-mapped read-only.

        The file is reused when its JSON sidecar (``<path>.json``) records the same regions, width and
        genome; otherwise it is rebuilt, streaming batch by batch and written atomically.

        Returns
        -------
        ``np.memmap`` of ``int8``, shape ``(n, width)``.
        """
        path = Path(path)
        sidecar = path.with_name(path.name + ".json")
        key = {
            "format_version": _CACHE_FORMAT_VERSION,
            "regions_sha256": _regions_hash(regions),
            "n_regions": len(regions),
            "width": int(width),
            "genome": self._fingerprint(),
        }
        if path.is_file() and sidecar.is_file():
            try:
                if json.loads(sidecar.read_text()) == key:
                    logger.info("reusing encoded sequences in %s", path)
                    return np.load(path, mmap_mode="r")
            except (OSError, ValueError):
                pass
        logger.info("encoding %d regions (width %d) into %s", len(regions), width, path)
        sidecar.unlink(missing_ok=True)  # a crash below must not leave a sidecar vouching for stale data
        with atomic_path(path) as tmp:
            store = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int8, shape=(len(regions), int(width)))
            row = 0
            for batch in self.iter_encoded(regions, width=width):
                store[row:row + len(batch)] = batch
                row += len(batch)
            store.flush()
            del store
        with atomic_path(sidecar) as tmp:
            tmp.write_text(json.dumps(key, indent=1))
        return np.load(path, mmap_mode="r")

    def _fingerprint(self) -> dict:
        if self._sequences is not None:
            digest = hashlib.sha256()
            for name, seq in self._sequences.items():
                digest.update(name.encode() + b"\0" + seq.encode("ascii", errors="replace") + b"\0")
            return {"in_memory_sha256": digest.hexdigest()}
        stat = self.path.stat()
        return {"fasta": str(self.path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}

    def _iter_chunks(self, name: str, chunk: int) -> Iterator[str]:
        for lo in range(0, self._sizes[name], chunk):
            yield self._raw(name, lo, min(lo + chunk, self._sizes[name]))


def _regions_hash(regions: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update("\0".join(regions[_keys.CHROM].astype(str)).encode())
    for column in (_keys.START, _keys.END):
        digest.update(regions[column].to_numpy(dtype=np.int64).tobytes())
    return digest.hexdigest()


def write_fasta(sequences: Mapping[str, str] | Genome, path: str | os.PathLike, *, line_width: int = 60) -> Path:
    """Write sequences as a FASTA file plus its ``.fai`` index, atomically.

    Parameters
    ----------
    sequences
        ``{name: sequence}`` or a :class:`Genome`.
    path
        Output FASTA path; the index goes to ``<path>.fai``.
    line_width
        Bases per line.

    Returns
    -------
    The FASTA path. Identical input gives byte-identical files.
    """
    if line_width < 1:
        raise SeqatacInputError(f"line_width must be >= 1, got {line_width}.")
    genome = sequences if isinstance(sequences, Genome) else Genome.from_dict(sequences)
    path = Path(path)
    chunk = line_width * max(1, (1 << 20) // line_width)  # whole lines, ~1 Mb per read
    index_lines = []
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            offset = 0
            for name in genome.chromosomes:
                header = f">{name}\n".encode()
                handle.write(header)
                offset += len(header)
                index_lines.append(f"{name}\t{genome.chrom_sizes[name]}\t{offset}\t{line_width}\t{line_width + 1}\n")
                for piece in genome._iter_chunks(name, chunk):
                    data = piece.encode("ascii", errors="replace")
                    text = b"".join(data[i:i + line_width] + b"\n" for i in range(0, len(data), line_width))
                    handle.write(text)
                    offset += len(text)
    with atomic_path(path.with_name(path.name + ".fai")) as tmp:
        tmp.write_text("".join(index_lines))
    return path
