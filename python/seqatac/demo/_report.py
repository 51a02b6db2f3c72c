"""The demo's figures and its one self-contained HTML report (every plot a base64 PNG, no external files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys
from ._evaluate import DISPLAY, EMBEDDINGS, all_drivers, embedding_matrix


def add_layouts(atac: AnnData, methods: list[str], *, iterations: int, random_state: int) -> None:
    """2-D t-SNE layout of each method's embedding in ``obsm["X_tsne_<method>"]`` (fewer iterations than
    ``seqatac.tl.layout_2d``'s default 1,000, to fit the demo's time on two cores)."""
    from sklearn.manifold import TSNE

    for method in methods:
        X = embedding_matrix(atac, method).astype(np.float32)
        perplexity = float(min(30, max(2, (X.shape[0] - 1) // 3)))
        tsne = TSNE(perplexity=perplexity, init="pca", max_iter=max(250, int(iterations)), random_state=random_state)
        atac.obsm[f"X_tsne_{method}"] = tsne.fit_transform(X).astype(np.float32)


def _embedding_figures(atac: AnnData, methods: list[str], embedding: dict) -> list:
    from .. import pl

    figures = []
    for method in methods:
        metrics = embedding[method]["metrics"]
        figures.append(pl.embedding(
            atac, basis=f"X_tsne_{method}", color=[_keys.CELL_TYPE, _keys.BATCH],
            title=f"{DISPLAY[method]} — label score (k 50) {metrics['label_score_k50']:.3f}, "
                  f"iLISI {metrics['ilisi']:.3f}"))
    return figures


def _training_figure(results: dict):
    from .. import pl

    histories, columns, secondary = {}, {}, {}
    if "cellspace" in results:
        histories["CellSpace"] = results["cellspace"]["history"]
        columns["CellSpace"], secondary["CellSpace"] = ["loss"], ["active_fraction"]
    if "epifoundation" in results:
        for stage, history in results["epifoundation"]["histories"].items():
            name = f"EpiFoundation {stage}"
            histories[name] = history
            if "accuracy" in history:
                secondary[name] = ["accuracy"]
    if "scbasset" in results:
        histories["scBasset"] = results["scbasset"]["history"]
        columns["scBasset"], secondary["scBasset"] = ["train_loss", "val_loss"], ["train_auroc", "val_auroc"]
    if not histories:
        return None
    return pl.training_curves(histories, columns=columns, secondary=secondary, title="Training curves")


def _motif_figure(denovo, known_by_id: dict):
    from .. import pl

    table = denovo.table
    pairs, labels = [], []
    for motif in denovo.motifs:
        row = table.loc[motif.id]
        match = known_by_id.get(row.get("best_match_id"))
        pairs.append((motif, match))
        similarity = row.get("similarity")
        labels.append(f"{motif.id} (cluster {row.get('group')}, {row.get('n_kmers')} 10-mers)"
                      + (f" — similarity {similarity:.2f}" if pd.notna(similarity) else ""))
    return pl.motif_matches(pairs, labels=labels, title="CellSpace de novo motifs (left) and their best JASPAR match")


def write_report(path: Path, *, atac: AnnData, preset: str, random_state: int, results: dict, table: pd.DataFrame,
                 embedding: dict, drivers: dict, known_motifs: list, timings: dict) -> int:
    """Write ``report.html``; returns the number of figures embedded."""
    from .. import pl

    truth = atac.uns[_keys.SIMULATION_UNS]
    methods = [m for m in EMBEDDINGS if m in embedding]
    figures = 0

    def count(items):
        nonlocal figures
        figures += sum(hasattr(item, "savefig") for item in items)
        return items

    shown = table.copy()
    shown.index = [DISPLAY.get(m, m) for m in shown.index]
    n_types, n_batches = atac.obs[_keys.CELL_TYPE].nunique(), atac.obs[_keys.BATCH].nunique()
    intro = [
        (f"Simulated '{preset}' data (seed {random_state}): {atac.n_obs:,} cells × {atac.n_vars:,} peaks, "
         f"{n_types} cell types, {n_batches} batches with a sequence-dependent batch effect, planted JASPAR motifs "
         "and paired RNA. Every method runs on the same cells and is scored against the simulator's ground truth."),
        (f"Total wall time {sum(timings.values()):.0f} s: "
         + ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in timings.items()) + "."),
    ]
    legend = (
        "Embedding metrics (scib-metrics names): label score = fraction of the 50 nearest neighbours of the same "
        "cell type; Leiden ARI/NMI of the scib resolution sweep; iLISI = batch mixing (1 = mixed); total = 0.6 "
        "bio conservation + 0.4 batch correction. driver_top1/top3: fraction of cell types whose primary driver "
        "TF ranks first / in the top 3 of the 16-TF panel. Annotation: the held-out batch; LSI's row is LSI + "
        "kNN label transfer from the other batches. expression_pearson: mean per-gene Pearson on the held-out "
        "batch (gene activity is the Signac-style baseline)."
    )
    note = (
        "Note: CellSpace is scored on unit-normalised rows (a cosine space); chromVAR's embedding is its 16 "
        "deviation z-scores. EpiFoundation's fine-tuned embedding saw the training batch's labels."
    )
    sections = [("Metrics (one row per method)", [shown, legend, note])]
    sections.append(("Cell embeddings (t-SNE), by cell type and by batch",
                     count(_embedding_figures(atac, methods, embedding))))
    activities = {DISPLAY[m]: results[m]["tf_activity"] for m in ("chromvar", "cellspace", "scbasset") if m in results}
    if activities:
        tfs = [str(tf) for tf in truth["tfs"]["tf"]]
        heatmap = pl.tf_activity_heatmap(activities, atac.obs[_keys.CELL_TYPE].astype(str).to_numpy(),
                                         drivers=all_drivers(truth), tfs=tfs,
                                         title="TF activity per cell type (box: planted primary driver, dot: "
                                               "secondary activator)")
        ranks = pd.DataFrame({DISPLAY[m]: pd.Series(drivers[m]["rank"]) for m in drivers})
        ranks.index.name = "cell type (rank of its primary driver)"
        sections.append(("TF activity and the planted driver TFs", count([heatmap, ranks])))
    training = _training_figure(results)
    if training is not None:
        notes = []
        if "scbasset" in results:
            sb = results["scbasset"]
            notes.append(f"Note: scBasset trained {sb['epochs']} epochs of a CPU-sized network "
                         f"({sb['n_parameters']:,} parameters; the authors' has 4.5 M and trains up to 1,000 "
                         "epochs on a GPU); held-out peaks auROC per cell "
                         f"{sb['held_out_peaks']['auroc_per_cell']:.3f}. "
                         "Its cell embedding separates cell types only after many more epochs (benchmarks/REPORT.md).")
        sections.append(("Training curves", count([training, *notes])))
    if "cellspace" in results:
        denovo = results["cellspace"]["denovo"]
        summary = results["cellspace"]["denovo_summary"]
        known_by_id = {m.id: m for m in known_motifs}
        text = (f"{summary['n_motifs']} de novo motifs from the Leiden clusters of the CellSpace graph; their best "
                f"JASPAR 2024 match is a planted motif for {len(summary['planted_recovered'])} of the "
                f"{summary['n_planted']} planted TFs ({', '.join(summary['planted_recovered']) or 'none'}).")
        sections.append(("De novo motifs (CellSpace)", count([text, _motif_figure(denovo, known_by_id)])))
    if "epifoundation" in results:
        epi = results["epifoundation"]
        labels = epi["labels"]
        confusion = pl.confusion_matrix(labels["true"], {"EpiFoundation": labels["epifoundation"],
                                                         "LSI + kNN": labels["lsi_knn"]},
                                        title=f"Annotation of the held-out {epi['annotation']['held_out_batch']}")
        expression = pd.DataFrame(epi["expression"]).T
        expression.index.name = "expression on the held-out batch"
        text = (f"Trained on {epi['annotation']['n_train']:,} cells of the other batches (pre-training on their "
                "paired RNA, then the cell-type head on their labels); "
                f"{epi['annotation']['n_test']:,} held-out cells.")
        sections.append(("EpiFoundation: annotation and expression", count([text, confusion, expression])))
    pl.html_report(sections, title="seqatac demo: sequence-informed scATAC-seq models on simulated data",
                   intro=intro, save=path)
    return figures
