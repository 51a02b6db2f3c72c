"""The demo's analysis stages: baselines, CellSpace, EpiFoundation and scBasset on one simulated dataset.

Each stage writes its results into the simulation's AnnData objects (the keys of ``seqatac._keys``) and
returns what the report needs (histories, tables, held-out predictions). Nothing here prints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import _keys
from ._settings import DemoSettings

#: obsm key of EpiFoundation's pre-trained (label-free) cell embedding; X_epifoundation is the annotation-tuned one.
EPIFOUNDATION_PRETRAINED_OBSM = "X_epifoundation_pretrained"
#: obs column marking the batch EpiFoundation (and LSI + kNN) never saw a label of.
HELD_OUT_OBS = "held_out"


def tf_named(activity: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """TF activity with its columns renamed from JASPAR motif names to the simulator's TF names."""
    tfs = truth["tfs"]
    return activity.rename(columns=dict(zip(tfs["motif_name"], tfs["tf"])))


def lognormalize(counts) -> np.ndarray:
    """Seurat ``NormalizeData``: ``log1p(counts / cell total × 10,000)``, dense (cells × genes of one batch)."""
    matrix = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    matrix = sp.diags(1e4 / np.where(totals > 0, totals, 1.0)) @ matrix
    matrix.data = np.log1p(matrix.data)
    return matrix.toarray()


# ------------------------------------------------------------------------------------------- baselines


def run_baselines(simulation, panel, *, random_state: int) -> dict:
    """LSI (``obsm["X_lsi"]``) and chromVAR-style deviations of the simulator's motif panel (``obsm["chromvar"]``)."""
    from ..baselines import chromvar_deviations, lsi

    atac = simulation.atac
    lsi(atac, random_state=random_state)
    chromvar_deviations(atac, panel, genome=simulation.genome, random_state=random_state)
    activity = tf_named(pd.DataFrame(atac.obsm[_keys.CHROMVAR_OBSM], index=atac.obs_names), simulation.truth)
    return {"tf_activity": activity}


# ------------------------------------------------------------------------------------------- CellSpace


def run_cellspace(simulation, panel, known_motifs, settings: DemoSettings, *, random_state: int,
                  n_threads: int | None) -> dict:
    """CellSpace on the variable peaks: embedding, TF activity, Leiden clusters and de novo motifs.

    Writes ``obsm["X_cellspace"]``, ``obsm["cellspace_tf"]``, ``obs["leiden"]`` (merged clusters of the
    CellSpace graph), ``obsp["cellspace_knn"/"cellspace_snn"]`` and ``uns["seqatac"]["cellspace"]``.
    """
    from .. import tl
    from ..models import CellSpace

    atac = simulation.atac
    data = atac
    if settings.cellspace_peaks is not None and settings.cellspace_peaks < atac.n_vars:
        tl.variable_peaks(atac, n_top=settings.cellspace_peaks, use_rep=_keys.LSI_OBSM, random_state=random_state)
        data = atac[:, atac.var["variable"].to_numpy()].copy()
    model = CellSpace(data, simulation.genome, random_state=random_state, **settings.cellspace_params)
    model.fit(settings.cellspace_epochs, random_state=random_state, n_threads=n_threads, verbose=False)
    activity = tf_named(model.get_tf_activity(panel), simulation.truth)
    model.write_to_adata(data, tf_activity=activity)
    if data is not atac:
        for key in (_keys.CELLSPACE_OBSM, _keys.CELLSPACE_TF):
            atac.obsm[key] = data.obsm[key]
        atac.uns.setdefault(_keys.SEQATAC_UNS, {})["cellspace"] = data.uns[_keys.SEQATAC_UNS]["cellspace"]
    tl.cell_graph(atac, use_rep=_keys.CELLSPACE_OBSM)
    tl.leiden(atac, resolution=settings.leiden_resolution, random_state=random_state)
    tl.merge_small_clusters(atac, min_cells=settings.min_cluster_cells)
    width = int(np.median(data.var[_keys.END] - data.var[_keys.START]))
    denovo = tl.denovo_motifs(model, atac.obs["leiden"], top_kmers=settings.denovo_top_kmers,
                              sequences=simulation.genome.encode_regions(data.var, width=width),
                              known_motifs=known_motifs)
    return {"model": model, "tf_activity": activity, "denovo": denovo, "n_peaks": int(data.n_vars),
            "history": pd.DataFrame(model.history).assign(epoch=lambda f: np.arange(1, len(f) + 1)),
            "epochs": int(model.epochs_done)}


def denovo_summary(denovo, truth: dict) -> dict:
    """Which planted motifs a de novo motif matched best (exact JASPAR matrix id), and the motif table."""
    tfs = truth["tfs"]
    planted = tfs[tfs["used"]] if "used" in tfs else tfs
    table = denovo.table
    found = set(table["best_match_id"]) if len(table) else set()
    recovered = [tf for tf, motif_id in zip(planted["tf"], planted["motif_id"]) if motif_id in found]
    columns = [c for c in ("consensus", "group", "n_kmers", "best_match_name", "best_match_id", "similarity")
               if c in table]
    return {"n_motifs": len(table), "n_planted": len(planted), "planted_recovered": recovered,
            "table": table[columns].reset_index().to_dict(orient="records") if len(table) else []}


# ------------------------------------------------------------------------------------------- EpiFoundation


def run_epifoundation(simulation, settings: DemoSettings, *, random_state: int, n_threads: int | None) -> dict:
    """EpiFoundation: pre-train on the paired RNA of all batches but the last, fine-tune the cell-type head on
    their labels and annotate the held-out last batch; then fine-tune expression and predict it there.

    Writes ``obsm["X_epifoundation"]`` (annotation-tuned), ``obsm["X_epifoundation_pretrained"]``,
    ``obs["epifoundation_cell_type"]`` / ``_confidence`` (every cell; only the held-out ones are scored),
    ``obs["held_out"]``, ``uns["seqatac"]["epifoundation"]`` and ``rna.layers["epifoundation_expression"]``.
    Also scores the baselines on the same held-out cells: LSI + kNN label transfer and Signac-style gene activity.
    """
    from sklearn.neighbors import KNeighborsClassifier

    from ..baselines import gene_activity
    from ..metrics import annotation_metrics, expression_metrics
    from ..models import EpiFoundation

    atac, rna = simulation.atac, simulation.rna
    batches = atac.obs[_keys.BATCH].astype(str)
    held_out_batch = max(batches.unique())  # the last batch by name
    test = (batches == held_out_batch).to_numpy()
    train = ~test
    atac.obs[HELD_OUT_OBS] = test
    labels = atac.obs[_keys.CELL_TYPE].astype(str).to_numpy()
    atac_train, rna_train = atac[train].copy(), rna[train].copy()
    training = {**settings.epifoundation_training, "n_threads": n_threads, "verbose": False}
    inference = {"n_threads": n_threads, "verbose": False}

    model = EpiFoundation(atac, rna, random_state=random_state, **settings.epifoundation_architecture)
    histories = {"pre-training": model.pretrain(atac_train, rna_train, max_epochs=settings.pretrain_epochs, **training)}
    atac.obsm[EPIFOUNDATION_PRETRAINED_OBSM] = model.get_latent_representation(atac, **inference)
    histories["annotation"] = model.fit("annotate", atac_train, labels_key=_keys.CELL_TYPE,
                                        max_epochs=settings.annotate_epochs, **training)
    model.write_to_adata(atac, **inference)
    predicted = atac.obs[_keys.EPIFOUNDATION_CELL_TYPE].astype(str).to_numpy()

    knn = KNeighborsClassifier(n_neighbors=settings.knn_neighbors)
    knn.fit(atac.obsm[_keys.LSI_OBSM][train], labels[train])
    knn_predicted = knn.predict(atac.obsm[_keys.LSI_OBSM][test])
    annotation = {"held_out_batch": held_out_batch, "n_train": int(train.sum()), "n_test": int(test.sum()),
                  "epifoundation": annotation_metrics(labels[test], predicted[test]),
                  "lsi_knn": annotation_metrics(labels[test], knn_predicted)}

    histories["expression"] = model.fit("expression", atac_train, rna_train, max_epochs=settings.expression_epochs,
                                        **training)
    levels = model.predict_expression(atac, genes=rna.var_names, **inference)
    rna.layers[_keys.EPIFOUNDATION_EXPRESSION] = levels
    truth = lognormalize(rna[test].X)
    activity = lognormalize(gene_activity(atac[test].copy(), rna[test].copy()).X)
    per_gene = {"epifoundation": expression_metrics(truth, levels[test])["pearson"],
                "gene_activity": expression_metrics(truth, activity)["pearson"]}
    expression = {name: {"pearson_mean": float(np.nanmean(values)), "pearson_median": float(np.nanmedian(values)),
                         "n_genes_scored": int(np.isfinite(values).sum())} for name, values in per_gene.items()}
    return {"model": model, "histories": {k: pd.DataFrame(v) for k, v in histories.items()},
            "annotation": annotation, "expression": expression,
            "labels": {"true": labels[test], "epifoundation": predicted[test], "lsi_knn": knn_predicted},
            "epochs": {"pretrain": settings.pretrain_epochs, "annotate": settings.annotate_epochs,
                       "expression": settings.expression_epochs}}


# ------------------------------------------------------------------------------------------- scBasset


def run_scbasset(simulation, panel, settings: DemoSettings, *, random_state: int, n_threads: int | None) -> dict:
    """A short, CPU-sized scBasset run: cell embedding, TF activity by motif insertion, held-out peak auROC.

    Writes ``obsm["X_scbasset"]``, ``obs["scbasset_intercept"]``, ``obsm["scbasset_tf"]`` and
    ``uns["seqatac"]["scbasset"]``.
    """
    from ..models import ScBasset

    atac = simulation.atac
    model = ScBasset(atac, simulation.genome, random_state=random_state, **settings.scbasset_architecture)
    model.fit(max_epochs=settings.scbasset_epochs, batch_size=settings.scbasset_batch_size, early_stopping=False,
              n_threads=n_threads, verbose=False)
    activity = tf_named(model.get_tf_activity(panel, n_backgrounds=settings.scbasset_backgrounds,
                                              random_state=random_state, verbose=False), simulation.truth)
    model.write_to_adata(atac, tf_activity=activity, motifs=panel)
    held_out_peaks = model.evaluate("test")["summary"]
    history = model.history.copy()
    return {"model": model, "tf_activity": activity, "history": history, "epochs": len(history),
            "held_out_peaks": held_out_peaks,
            "n_parameters": int(sum(p.numel() for p in model.module.parameters())),
            "precision": model.params["training"]["precision"]}
