"""An AnnData as plain parts (arrays, lists, dicts) that reticulate moves to and from R without loss, for the
seqATAC R package's ``readSeqatacH5AD()`` / ``writeSeqatacH5AD()``.

Matrices travel as cells × features: sparse ones as CSR ``data``/``indices``/``indptr``/``shape`` (R reads them
as the compressed columns of its features × cells ``dgCMatrix``), dense ones as arrays. Table columns travel
as ``{"type": ..., "values": ..., "missing": ...}`` with ``type`` one of ``factor`` (``codes`` 0-based, -1 for
missing, and ``levels``), ``logical``, ``integer``, ``numeric`` and ``character``, so that missing values and
factor levels survive. Peak coordinates are 0-based, half-open on this side.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .._errors import SeqatacInputError, SeqatacWarning
from .._utils import write_h5ad
from ..data import coordinate_columns, parse_regions, read_h5ad
from ._schema import (
    ALT_EXP_NAMES,
    RECORD_UNS,
    alt_exp_layout,
    alt_exp_record,
    obsm_key_of_reduced_dim,
    reduced_dim_name,
)

# ----------------------------------------------------------------------------------------- AnnData -> R


def read_h5ad_parts(path: str | os.PathLike, *, x_name: str = "counts") -> dict:
    """Read an ``.h5ad`` with the engine's reader and return :func:`anndata_parts` of it."""
    return anndata_parts(read_h5ad(path), x_name=x_name)


def anndata_parts(adata: AnnData, *, x_name: str = "counts") -> dict:
    """The parts of an AnnData for R.

    Parameters
    ----------
    adata
        Any AnnData (cells × features).
    x_name
        Assay name that ``X`` gets (layers keep their names; a layer of that name wins over ``X``).

    Returns
    -------
    dict with ``obs_names``, ``var_names``, ``assays`` (name → matrix part), ``obs`` and ``var`` (column name →
    column part; the coordinate columns are not repeated in ``var``), ``ranges`` (``chrom``, ``start``, ``end``,
    0-based half-open, or None when the features have no coordinates), ``reduced_dims`` (name → (cells, d)
    float64 array), ``alt_exps`` (name → ``assays``: name → (rows, cells) float64 array, ``row_names``,
    ``row_data``: column parts), ``reduced_dim_columns`` (name → column names, where recorded) and ``metadata``
    (``uns`` as nested dicts, arrays and tables).
    """
    assays = {}
    if adata.X is not None:
        assays[x_name] = _matrix_part(adata.X)
    for name, layer in adata.layers.items():
        assays[str(name)] = _matrix_part(layer)
    var = adata.var
    ranges = None
    found = coordinate_columns(var)
    if len(found) == 3:
        regions = parse_regions(var)
        var = var.drop(columns=list(found.values()))
        ranges = _ranges_part(regions)
    else:
        try:
            ranges = _ranges_part(parse_regions(pd.Index(adata.var_names)))
        except SeqatacInputError:
            ranges = None
    reduced_dims, alt_exps = {}, {}
    for key, value in adata.obsm.items():
        if isinstance(value, pd.DataFrame):
            continue
        array = value.toarray() if sp.issparse(value) else np.asarray(value)
        if array.ndim == 2 and array.dtype.kind in "biuf":
            reduced_dims[reduced_dim_name(str(key))] = array.astype(np.float64)
    for name, entry in alt_exp_layout(adata).items():
        first = adata.obsm[next(iter(entry["assays"].values()))]
        alt_exps[name] = {
            "assays": {
                assay: adata.obsm[key].reindex(columns=first.columns).to_numpy(dtype=np.float64).T
                for assay, key in entry["assays"].items()
            },
            "row_names": [str(c) for c in first.columns],
            "row_data": _table_part(entry["row_data"]),
        }
    record = adata.uns.get(RECORD_UNS, {})
    columns = {str(k): [str(c) for c in np.atleast_1d(v)] for k, v in dict(record.get("reduced_dim_columns", {})).items()}
    reduced_dims = _ordered(reduced_dims, record.get("reduced_dim_order"))
    alt_exps = _ordered(alt_exps, record.get("alt_exp_order"))
    uns = {key: value for key, value in adata.uns.items() if key != RECORD_UNS}
    return {
        "obs_names": [str(name) for name in adata.obs_names],
        "var_names": [str(name) for name in adata.var_names],
        "assays": assays,
        "obs": _table_part(adata.obs),
        "var": _table_part(var),
        "ranges": ranges,
        "reduced_dims": reduced_dims,
        "reduced_dim_columns": {name: columns[name] for name in reduced_dims
                                if name in columns and len(columns[name]) == reduced_dims[name].shape[1]},
        "alt_exps": alt_exps,
        "metadata": _r_friendly(uns),
    }


def _ordered(items: dict, order) -> dict:
    """``items`` in the recorded order (names not recorded follow, as they come)."""
    if order is None:
        return items
    order = [str(name) for name in np.atleast_1d(order) if str(name) in items]
    return {**{name: items[name] for name in order}, **{k: v for k, v in items.items() if k not in order}}


def _matrix_part(matrix) -> dict:
    if sp.issparse(matrix):
        csr = sp.csr_matrix(matrix)
        csr.sum_duplicates()
        if csr.nnz >= 2**31:
            raise SeqatacInputError(
                f"a matrix with {csr.nnz:,} non-zeros does not fit a dgCMatrix (at most 2^31 - 1); "
                "subset the cells before reading it into R."
            )
        return {"sparse": True, "data": csr.data.astype(np.float64), "indices": csr.indices.astype(np.int32),
                "indptr": csr.indptr.astype(np.int32), "shape": [int(n) for n in csr.shape]}
    dense = np.asarray(matrix, dtype=np.float64)
    return {"sparse": False, "values": dense.T, "shape": [int(n) for n in dense.shape]}


def _ranges_part(regions: pd.DataFrame) -> dict:
    return {"chrom": [str(c) for c in regions["chrom"]], "start": regions["start"].to_numpy(np.float64),
            "end": regions["end"].to_numpy(np.float64)}


def _table_part(frame: pd.DataFrame | None) -> dict:
    if frame is None:
        return {}
    return {str(column): _column_part(frame[column]) for column in frame.columns}


def _column_part(series: pd.Series) -> dict:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return {"type": "factor", "codes": series.cat.codes.to_numpy(np.int32),
                "levels": [str(level) for level in series.cat.categories]}
    missing = series.isna().to_numpy()
    kind = series.dtype.kind
    if kind == "b" or (series.dtype == "boolean"):
        return {"type": "logical", "values": series.fillna(False).to_numpy(bool), "missing": missing}
    if kind in "iu" or str(series.dtype) in ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32"):
        values = series.fillna(0).to_numpy(np.float64)
        if np.abs(values).max(initial=0) < 2**31:
            return {"type": "integer", "values": values, "missing": missing}
        return {"type": "numeric", "values": np.where(missing, np.nan, values)}
    if kind == "f":
        return {"type": "numeric", "values": series.to_numpy(np.float64)}
    return {"type": "character", "values": ["" if m else str(v) for v, m in zip(series, missing)], "missing": missing}


def _r_friendly(value, path: str = "uns"):
    """``uns`` for reticulate: dicts, arrays, strings, numbers and DataFrames; other objects become their repr."""
    if isinstance(value, dict):
        return {str(k): _r_friendly(v, f"{path}/{k}") for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        return value.copy()
    if isinstance(value, np.ndarray):
        return value.astype(str) if value.dtype.kind == "O" else value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_r_friendly(v, f"{path}/{i}") for i, v in enumerate(value)]
    return repr(value)


# ----------------------------------------------------------------------------------------- R -> AnnData


def write_h5ad_parts(parts: dict, path: str | os.PathLike) -> None:
    """Write :func:`anndata_from_parts` of ``parts`` to ``path`` atomically (no partial file on failure)."""
    write_h5ad(anndata_from_parts(parts), path)


def anndata_from_parts(parts: dict) -> AnnData:
    """An AnnData from parts sent by R (the layout :func:`anndata_parts` returns, plus ``x`` naming the assay
    that becomes ``X``; ``None`` leaves ``X`` empty and keeps every assay as a layer).

    Reduced dimensions become ``obsm["X_<name>"]`` (see :mod:`seqatac.r._schema` for the seqatac names), each
    altExp one obsm DataFrame per assay, and the altExp layout is recorded in ``uns["seqatac_r"]`` so that the
    file reads back into the same object.
    """
    obs_names = pd.Index(_strings(parts["obs_names"]), dtype=object)
    var_names = pd.Index(_strings(parts["var_names"]), dtype=object)
    shape = (len(obs_names), len(var_names))
    assays = {str(name): _matrix_from_part(part, shape, name) for name, part in dict(parts.get("assays") or {}).items()}
    x_name = parts.get("x")
    X = assays.pop(x_name) if x_name is not None and x_name in assays else None
    obs = _table_from_part(parts.get("obs"), obs_names)
    var = _table_from_part(parts.get("var"), var_names)
    ranges = parts.get("ranges")
    if ranges is not None:
        var["chrom"] = pd.Categorical(_strings(ranges["chrom"]))
        var["start"] = np.atleast_1d(np.asarray(ranges["start"], dtype=np.int64))
        var["end"] = np.atleast_1d(np.asarray(ranges["end"], dtype=np.int64))
    adata = AnnData(X=X, obs=obs, var=var, layers=assays or None)
    for name, values in dict(parts.get("reduced_dims") or {}).items():
        adata.obsm[obsm_key_of_reduced_dim(str(name))] = _cells_matrix(values, shape[0], f"reducedDim {name!r}")
    layout = {}
    for name, entry in dict(parts.get("alt_exps") or {}).items():
        name = str(name)
        row_names = _strings(entry["row_names"])
        keys = {}
        for assay, values in dict(entry["assays"]).items():
            key = _alt_exp_key(name, str(assay))
            frame = pd.DataFrame(_cells_matrix(values, shape[0], f"altExp {name!r}"), index=obs_names,
                                 columns=pd.Index(row_names, dtype=object))
            adata.obsm[key] = frame
            keys[str(assay)] = key
        row_data = _table_from_part(entry.get("row_data"), pd.Index(row_names, dtype=object))
        layout[name] = {"assays": keys, "row_data": row_data}
    uns, dropped = _uns_from_r(dict(parts.get("metadata") or {}))
    if dropped:
        warnings.warn(
            f"metadata entries that an h5ad cannot hold were not written: {', '.join(dropped[:5])}"
            + (" ..." if len(dropped) > 5 else "") + " (only lists of vectors, matrices and data frames are written).",
            SeqatacWarning,
            stacklevel=2,
        )
    adata.uns.update(uns)
    record = {}
    if layout:
        record["alt_exps"] = alt_exp_record(layout)
        record["alt_exp_order"] = np.asarray(list(layout), dtype=object)
    reduced_names = [str(name) for name in dict(parts.get("reduced_dims") or {})]
    if reduced_names:
        record["reduced_dim_order"] = np.asarray(reduced_names, dtype=object)
        columns = {str(k): np.asarray(_strings(v), dtype=object)
                   for k, v in dict(parts.get("reduced_dim_columns") or {}).items() if v is not None and len(_strings(v))}
        if columns:
            record["reduced_dim_columns"] = columns
    if record:
        adata.uns[RECORD_UNS] = record
    return adata


def _alt_exp_key(name: str, assay: str) -> str:
    """obsm key of an altExp assay: the engine's key for seqatac's TF tables, else ``name`` / ``name_assay``."""
    for key, (alt_name, alt_assay) in ALT_EXP_NAMES.items():
        if alt_name == name and alt_assay == assay:
            return key
    return name if assay == "activity" else f"{name}_{assay}"


def _strings(values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    return [str(v) for v in np.atleast_1d(np.asarray(values, dtype=object))]


def _matrix_from_part(part: dict, shape: tuple[int, int], name) -> sp.csr_matrix | np.ndarray:
    if part.get("sparse"):
        data = np.atleast_1d(np.asarray(part["data"], dtype=np.float32))
        indices = np.atleast_1d(np.asarray(part["indices"], dtype=np.int32))
        indptr = np.atleast_1d(np.asarray(part["indptr"], dtype=np.int64))
        return sp.csr_matrix((data, indices, indptr), shape=shape)
    values = np.asarray(part["values"], dtype=np.float64).reshape(shape)
    return values


def _cells_matrix(values, n_cells: int, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array.reshape(n_cells, -1)
    if array.shape[0] != n_cells:
        raise SeqatacInputError(f"{what} has {array.shape[0]} rows for {n_cells} cells.")
    return array


def _table_from_part(part, index: pd.Index) -> pd.DataFrame:
    frame = pd.DataFrame(index=index)
    for column, entry in dict(part or {}).items():
        frame[str(column)] = _column_from_part(dict(entry), len(index))
    return frame


def _column_from_part(entry: dict, n: int):
    kind = entry["type"]
    missing = entry.get("missing")
    missing = np.zeros(n, bool) if missing is None else np.atleast_1d(np.asarray(missing, dtype=bool))
    if kind == "factor":
        codes = np.atleast_1d(np.asarray(entry["codes"], dtype=np.int64))
        return pd.Categorical.from_codes(codes, categories=_strings(entry["levels"]))
    if kind == "logical":
        values = np.atleast_1d(np.asarray(entry["values"], dtype=bool))
        return pd.array([None if m else bool(v) for v, m in zip(values, missing)], dtype="boolean") if missing.any() else values
    if kind == "integer":
        values = np.atleast_1d(np.asarray(entry["values"], dtype=np.float64))
        if missing.any():
            return pd.array([None if m else int(v) for v, m in zip(values, missing)], dtype="Int32")
        return values.astype(np.int32)
    if kind == "numeric":
        return np.atleast_1d(np.asarray(entry["values"], dtype=np.float64))
    values = _strings(entry["values"])
    return pd.array([None if m else v for v, m in zip(values, missing)], dtype=object) if missing.any() else \
        np.asarray(values, dtype=object)


def _uns_from_r(metadata: dict, prefix: str = "") -> tuple[dict, list[str]]:
    """R metadata (as reticulate converts it) made writable to h5ad; the names of entries that are not."""
    uns, dropped = {}, []
    for key, value in metadata.items():
        name = f"{prefix}{key}"
        converted = _uns_value(value)
        if isinstance(converted, dict):
            converted, inner = _uns_from_r(converted, prefix=f"{name}$")
            dropped.extend(inner)
        if converted is _DROP:
            dropped.append(name)
        elif not (isinstance(converted, dict) and not converted and value):
            uns[str(key)] = converted
    return uns, dropped


_DROP = object()


def _uns_value(value):
    if value is None:
        return _DROP
    if isinstance(value, dict):
        return value
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, (str, bool, int, float, np.generic)):
        return value
    if isinstance(value, np.ndarray):
        return value.astype(str) if value.dtype.kind in "OU" else value
    if isinstance(value, (list, tuple)):
        items = [v for v in value if v is not None]
        if not items:
            return _DROP
        if all(isinstance(v, str) for v in items):
            return np.asarray(items, dtype=object)
        if all(isinstance(v, bool) for v in items):
            return np.asarray(items, dtype=bool)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
            return np.asarray(items)
        if all(isinstance(v, dict) for v in items):  # an unnamed R list of lists
            return {str(i): v for i, v in enumerate(items)}
        return _DROP
    return _DROP
