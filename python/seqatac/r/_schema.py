"""Where seqatac's AnnData results live in a Bioconductor object, one table for both bridges (h5ad through
reticulate, .rds through rpy2).

=======================================  ===================================================================
AnnData                                  SingleCellExperiment
=======================================  ===================================================================
``var`` ``chrom``/``start``/``end``      ``rowRanges`` (1-based closed: ``start + 1`` .. ``end``)
``obsm["X_scbasset"]`` (array)           ``reducedDim(x, "scBasset")``; ``X_cellspace`` → ``CellSpace``,
                                         ``X_epifoundation`` → ``EpiFoundation``, ``X_lsi`` → ``LSI``,
                                         ``X_pca`` → ``PCA``, ``X_umap`` → ``UMAP``; other ``X_<name>`` →
                                         ``<name>``
``obsm["scbasset_tf"]`` (DataFrame)      ``altExp(x, "scBassetTF")``, assay ``activity`` (motifs × cells),
                                         rowData ``motif_id``/``motif_name``; ``cellspace_tf`` →
                                         ``CellSpaceTF``; ``chromvar`` (+ ``chromvar_deviations``) →
                                         ``chromVARTF`` (assays ``activity``, ``deviations``);
                                         ``true_tf_activity`` → ``trueTF``; another DataFrame ``<key>`` →
                                         ``altExp(x, "<key>")``
=======================================  ===================================================================

Motif ids and names come from where the engine writes them (``uns["seqatac"]["scbasset"]["tf_motifs"]``,
``uns["seqatac"]["cellspace"]``, ``uns["chromvar"]``) or from the record the bridges themselves write,
``uns["seqatac_r"]["alt_exps"]``, so that a written object reads back as it was.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import _keys

#: uns key of the bridges' own record (altExp layout and row data, names of reduced dimensions).
RECORD_UNS = "seqatac_r"

REDUCED_DIM_NAMES = {
    _keys.SCBASSET_OBSM: "scBasset",
    _keys.CELLSPACE_OBSM: "CellSpace",
    _keys.EPIFOUNDATION_OBSM: "EpiFoundation",
    _keys.LSI_OBSM: "LSI",
    "X_pca": "PCA",
    "X_umap": "UMAP",
    "X_tsne": "TSNE",
}

#: obsm DataFrame keys → (altExp name, assay name).
ALT_EXP_NAMES = {
    _keys.SCBASSET_TF: ("scBassetTF", "activity"),
    _keys.CELLSPACE_TF: ("CellSpaceTF", "activity"),
    _keys.CHROMVAR_OBSM: ("chromVARTF", "activity"),
    _keys.CHROMVAR_OBSM + "_deviations": ("chromVARTF", "deviations"),
    _keys.TRUE_TF_ACTIVITY_OBSM: ("trueTF", "activity"),
}


def reduced_dim_name(obsm_key: str) -> str:
    """The reducedDim name of an obsm array."""
    if obsm_key in REDUCED_DIM_NAMES:
        return REDUCED_DIM_NAMES[obsm_key]
    return obsm_key[2:] if obsm_key.startswith("X_") and len(obsm_key) > 2 else obsm_key


def obsm_key_of_reduced_dim(name: str) -> str:
    """The obsm key of a reducedDim (the inverse of :func:`reduced_dim_name`)."""
    inverse = {value: key for key, value in REDUCED_DIM_NAMES.items()}
    return inverse.get(name, f"X_{name}")


def alt_exp_layout(adata) -> dict[str, dict]:
    """The altExps an AnnData's obsm DataFrames make.

    Returns
    -------
    ``{altExp name: {"assays": {assay: obsm key}, "row_data": DataFrame indexed by the obsm columns}}``;
    ``row_data`` holds ``motif_id``/``motif_name`` when the AnnData records them.
    """
    record = dict(adata.uns.get(RECORD_UNS, {}).get("alt_exps", {}))
    frames = {key: value for key, value in adata.obsm.items() if isinstance(value, pd.DataFrame)}
    layout: dict[str, dict] = {}
    claimed: set[str] = set()
    for name, entry in record.items():  # written by a bridge: taken as written
        assays = {str(assay): str(key) for assay, key in dict(entry.get("assays", {})).items() if key in frames}
        if assays:
            layout[str(name)] = {"assays": assays, "row_data": _record_row_data(entry, frames[next(iter(assays.values()))])}
            claimed.update(assays.values())
    for key, frame in frames.items():
        if key in claimed:
            continue
        name, assay = ALT_EXP_NAMES.get(key, (key, "activity"))
        entry = layout.setdefault(name, {"assays": {}, "row_data": None})
        entry["assays"][assay] = key
        if entry["row_data"] is None or assay == "activity":
            entry["row_data"] = _engine_row_data(adata, key, frame)
    return layout


def _record_row_data(entry: dict, frame: pd.DataFrame) -> pd.DataFrame:
    row_data = entry.get("row_data")
    labels = pd.Index(frame.columns.astype(str))
    if isinstance(row_data, pd.DataFrame) and len(row_data) == len(labels):
        row_data = row_data.copy()
        row_data.index = labels
        return row_data
    return pd.DataFrame(index=labels)


def _engine_row_data(adata, key: str, frame: pd.DataFrame) -> pd.DataFrame:
    """motif_id/motif_name of an engine-written TF table, aligned with its columns (empty when unrecorded)."""
    labels = pd.Index(frame.columns.astype(str))
    seqatac_uns = adata.uns.get(_keys.SEQATAC_UNS, {})
    ids = names = None
    if key == _keys.SCBASSET_TF:
        table = seqatac_uns.get(_keys.SCBASSET_UNS, {}).get("tf_motifs")
        if isinstance(table, pd.DataFrame) and {"column", "motif_id", "motif_name"} <= set(table.columns):
            table = table.set_index(table["column"].astype(str))
            if table.index.is_unique and labels.isin(table.index).all():
                ids = table.loc[labels, "motif_id"].to_numpy()
                names = table.loc[labels, "motif_name"].to_numpy()
    elif key == _keys.CELLSPACE_TF:
        record = seqatac_uns.get("cellspace", {})
        ids, names = record.get("motif_id"), record.get("motif_name")
    elif key in (_keys.CHROMVAR_OBSM, _keys.CHROMVAR_OBSM + "_deviations"):
        record = adata.uns.get(_keys.CHROMVAR_OBSM, {})
        ids, names = record.get("motif_id"), record.get("motif_name")
    row_data = pd.DataFrame(index=labels)
    if ids is not None and names is not None and len(ids) == len(labels) == len(names):
        row_data["motif_id"] = np.asarray(ids).astype(str)
        row_data["motif_name"] = np.asarray(names).astype(str)
    return row_data


def alt_exp_record(layout: dict[str, dict]) -> dict:
    """The ``uns[RECORD_UNS]["alt_exps"]`` entry that makes :func:`alt_exp_layout` give ``layout`` back."""
    return {
        name: {"assays": dict(entry["assays"]), "row_data": entry["row_data"]}
        for name, entry in layout.items()
    }
