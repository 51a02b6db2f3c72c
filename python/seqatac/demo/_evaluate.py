"""Scoring every method on the same cells: embedding metrics, driver-TF recovery and the one-row-per-method table."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys
from ._stages import EPIFOUNDATION_PRETRAINED_OBSM

#: method → (obsm key of its cell embedding, how it is shown)
EMBEDDINGS = {
    "lsi": (_keys.LSI_OBSM, "LSI"),
    "chromvar": (_keys.CHROMVAR_OBSM, "chromVAR-style deviations"),
    "cellspace": (_keys.CELLSPACE_OBSM, "CellSpace"),
    "epifoundation_pretrained": (EPIFOUNDATION_PRETRAINED_OBSM, "EpiFoundation (pre-trained, no labels)"),
    "epifoundation": (_keys.EPIFOUNDATION_OBSM, "EpiFoundation (cell-type fine-tuned)"),
    "scbasset": (_keys.SCBASSET_OBSM, "scBasset"),
}
DISPLAY = {**{method: label for method, (_, label) in EMBEDDINGS.items()}, "gene_activity": "gene activity"}

#: columns of metrics.csv, in order (NaN where a metric does not apply to a method)
TABLE_COLUMNS = [
    "label_score_k50", "leiden_ari", "leiden_nmi", "silhouette_label", "ilisi", "bio_conservation",
    "batch_correction", "total", "driver_top1", "driver_top3", "annotation_accuracy", "annotation_macro_f1",
    "expression_pearson", "epochs", "train_seconds",
]  # fmt: skip


def embedding_matrix(atac: AnnData, method: str) -> np.ndarray:
    """The embedding scored for ``method``: CellSpace rows unit-normalised (it is a cosine space), chromVAR
    deviations with NaN (motif-free cells) set to 0."""
    X = np.asarray(atac.obsm[EMBEDDINGS[method][0]], dtype=np.float64)
    X = np.nan_to_num(X, nan=0.0)
    if method == "cellspace":
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X = X / np.where(norms > 0, norms, 1.0)
    return X


def score_embeddings(atac: AnnData, methods: list[str], *, random_state: int) -> dict:
    """``evaluate_embedding`` of every method's embedding against the true cell types and batches."""
    from ..metrics import evaluate_embedding

    cells = AnnData(obs=atac.obs[[_keys.CELL_TYPE, _keys.BATCH]].copy())
    results = {}
    for method in methods:
        cells.obsm["X"] = embedding_matrix(atac, method)
        results[method] = evaluate_embedding(cells, embedding_key="X", label_key=_keys.CELL_TYPE,
                                             batch_key=_keys.BATCH, random_state=random_state)
        results[method]["embedding_key"] = EMBEDDINGS[method][0]
    return results


def primary_drivers(truth: dict) -> dict[str, list[str]]:
    """Cell type → [its primary driver TF]."""
    return {str(cell_type): [str(drivers[0])] for cell_type, drivers in truth["drivers"].items()}


def all_drivers(truth: dict) -> dict[str, list[str]]:
    """Cell type → its activating driver TFs, primary first."""
    return {str(cell_type): [str(tf) for tf in drivers] for cell_type, drivers in truth["drivers"].items()}


def score_drivers(activities: dict[str, pd.DataFrame], atac: AnnData) -> dict:
    """Rank of each type's primary driver TF in every method's TF activity (the simulator's 16-TF panel)."""
    from ..metrics import driver_tf_recovery

    truth = atac.uns[_keys.SIMULATION_UNS]
    labels = atac.obs[_keys.CELL_TYPE].astype(str).to_numpy()
    results = {}
    for method, activity in activities.items():
        table = driver_tf_recovery(activity, labels, primary_drivers(truth))
        results[method] = {
            "top1": float(table["top1"].mean()), "top3": float(table["top3"].mean()),
            "rank": {str(t): int(r) for t, r in table["best_rank"].items()}, "n_candidates": int(activity.shape[1]),
        }
    return results


def metrics_table(embedding: dict, drivers: dict, epifoundation: dict | None, training: dict) -> pd.DataFrame:
    """One row per method (``TABLE_COLUMNS``); LSI's annotation columns are LSI + kNN label transfer, the
    ``gene_activity`` row is the expression baseline."""
    rows: dict[str, dict] = {}
    for method, result in embedding.items():
        rows[method] = {name: result["metrics"].get(name) for name in TABLE_COLUMNS[:8]}
    for method, result in drivers.items():
        rows.setdefault(method, {}).update(driver_top1=result["top1"], driver_top3=result["top3"])
    if epifoundation is not None:
        for method, key in (("epifoundation", "epifoundation"), ("lsi", "lsi_knn")):
            scores = epifoundation["annotation"][key]
            rows.setdefault(method, {}).update(annotation_accuracy=scores["accuracy"],
                                               annotation_macro_f1=scores["macro_f1"])
        for method, scores in epifoundation["expression"].items():
            rows.setdefault(method, {})["expression_pearson"] = scores["pearson_mean"]
    for method, record in training.items():
        rows.setdefault(method, {}).update(record)
    order = [m for m in (*EMBEDDINGS, "gene_activity") if m in rows]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(index=order, columns=TABLE_COLUMNS)
    table.index.name = "method"
    return table.astype(float)


def printable_table(table: pd.DataFrame) -> str:
    """The table transposed (metrics × methods) so that every model stands beside LSI, empty cells blank."""
    shown = table.drop(columns=["train_seconds"]).T
    text = shown.map(lambda v: "" if pd.isna(v) else (f"{v:.0f}" if float(v).is_integer() and v > 1 else f"{v:.3f}"))
    text.columns = [_short(m) for m in text.columns]
    return text.to_string()


_SHORT = {"lsi": "LSI", "chromvar": "chromVAR", "cellspace": "CellSpace", "epifoundation_pretrained": "EpiF(pretrain)",
          "epifoundation": "EpiF(tuned)", "scbasset": "scBasset", "gene_activity": "gene_act"}


def _short(method: str) -> str:
    return _SHORT.get(method, method)
