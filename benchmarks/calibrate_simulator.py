"""Calibrate the simulator: how hard is a preset for the LSI baseline, and is the planted motif signal recoverable?

For each seed: simulate the preset, run LSI (TF-IDF + SVD, `seqatac.baselines.lsi` defaults), then

- ARI against ``cell_type`` of k-means (k = number of types, 10 inits), of Leiden at the resolution that gives
  the number of types (``seqatac.metrics.cluster_at_n_labels``) and at the best-NMI resolution of scib's
  sweep 0.2..2.0 (``nmi_ari_cluster_labels_leiden``, what ``seqatac evaluate`` reports as ``leiden_ari``);
- batch separation with the project's scib-style metrics: iLISI (scaled; 1 = mixed, 0 = separated) and
  batch ASW (1 − |silhouette| per type; 1 = mixed), on LSI and, for reference, on the true TF activity
  (an embedding without any batch effect);
- chromVAR-style deviations (motifs scanned in the simulated genome): the share of cell types whose primary
  driver TF has the highest mean z-score in that type (``seqatac.metrics.driver_tf_recovery``).

Writes ``benchmarks/results/simulator_calibration[_<preset>].json`` and a plot beside it.
Usage: ``python benchmarks/calibrate_simulator.py [--preset small] [--seeds 0 1 2 3 4] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from seqatac.baselines import chromvar_deviations, lsi
from seqatac.data import jaspar
from seqatac.metrics import (
    cluster_at_n_labels,
    driver_tf_recovery,
    ilisi_knn,
    nmi_ari_cluster_labels_leiden,
    silhouette_batch,
)
from seqatac.simulate import simulate_atac
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

ARI_BAND = (0.4, 0.85)
ARI_KEYS = ("ari_kmeans", "ari_leiden_at_k", "ari_leiden_scib_sweep")


def calibrate(preset: str, seed: int) -> dict:
    start = time.perf_counter()
    sim = simulate_atac(preset, random_state=seed, rna=False)
    simulate_seconds = time.perf_counter() - start
    adata, truth = sim.atac, sim.truth
    lsi(adata, random_state=0)
    embedding = adata.obsm["X_lsi"]
    labels = adata.obs["cell_type"].to_numpy()
    batch = adata.obs["batch"].to_numpy()
    true_activity = adata.obsm["true_tf_activity"].to_numpy()

    tfs = truth["tfs"]
    chromvar_deviations(adata, jaspar(ids=list(tfs["motif_id"])), genome=sim.genome, random_state=0)
    activity = adata.obsm["chromvar"].rename(columns=dict(zip(tfs["motif_name"], tfs["tf"])))
    primary_driver = {cell_type: [names[0]] for cell_type, names in truth["drivers"].items()}
    drivers = driver_tf_recovery(activity, labels, primary_driver)

    kmeans = KMeans(n_clusters=len(np.unique(labels)), n_init=10, random_state=0).fit_predict(embedding)
    leiden_at_k = cluster_at_n_labels(embedding, labels, random_state=0)
    return {
        "seed": seed,
        "simulate_seconds": round(simulate_seconds, 2),
        "density": truth["summary"]["density"],
        "median_open_peaks": truth["summary"]["median_open_peaks"],
        "lsi_dropped_components": adata.uns["lsi"]["dropped_components"].tolist(),
        "ari_kmeans": float(adjusted_rand_score(labels, kmeans)),
        "ari_leiden_at_k": leiden_at_k["ari"],
        "ari_leiden_scib_sweep": nmi_ari_cluster_labels_leiden(embedding, labels, random_state=0)["ari"],
        "ilisi_lsi": ilisi_knn(embedding, batch),
        "ilisi_true_activity": ilisi_knn(true_activity, batch),
        "batch_asw_lsi": silhouette_batch(embedding, labels, batch),
        "batch_asw_true_activity": silhouette_batch(true_activity, labels, batch),
        "chromvar_driver_first_fraction": float(drivers["top1"].mean()),
        "chromvar_driver_rank": {t: int(r) for t, r in drivers["best_rank"].items()},
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = result["runs"]
    fig, (ax_ari, ax_batch) = plt.subplots(1, 2, figsize=(10, 3.8))
    x = np.arange(len(runs))
    for offset, key in zip((-0.25, 0, 0.25), ARI_KEYS):
        ax_ari.bar(x + offset, [r[key] for r in runs], width=0.25, label=key.removeprefix("ari_"))
    ax_ari.axhspan(*ARI_BAND, color="grey", alpha=0.15, label="target band")
    ax_ari.set(xticks=x, xticklabels=[f"seed {r['seed']}" for r in runs], ylim=(0, 1.15),
               title=f"LSI on '{result['preset']}': ARI vs cell type")
    ax_ari.legend(fontsize=7, loc="upper left", ncol=2)
    for offset, (key, label) in zip((-0.2, 0.2), [("ilisi_lsi", "LSI"), ("ilisi_true_activity", "true activity")]):
        ax_batch.bar(x + offset, [r[key] for r in runs], width=0.4, label=label)
    ax_batch.set(xticks=x, xticklabels=[f"seed {r['seed']}" for r in runs], ylim=(0, 1.05),
                 title="batch mixing: iLISI (1 = mixed)")
    ax_batch.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", default=None, help="result JSON (default benchmarks/results/simulator_calibration"
                                                    "[_<preset>].json)")
    args = parser.parse_args()
    suffix = "" if args.preset == "small" else f"_{args.preset}"
    out = Path(args.out or Path(__file__).parent / "results" / f"simulator_calibration{suffix}.json")
    runs = []
    for seed in args.seeds:
        runs.append(calibrate(args.preset, seed))
        print(json.dumps(runs[-1]))
    keys = [*ARI_KEYS, "ilisi_lsi", "ilisi_true_activity", "batch_asw_lsi", "batch_asw_true_activity",
            "chromvar_driver_first_fraction"]
    result = {
        "preset": args.preset,
        "command": f"python benchmarks/calibrate_simulator.py --preset {args.preset} --seeds "
                   + " ".join(map(str, args.seeds)),
        "targets": {"ari": list(ARI_BAND), "ilisi_lsi": "clearly below ilisi_true_activity",
                    "chromvar_driver_first_fraction": ">= 0.7"},
        "mean": {key: float(np.mean([r[key] for r in runs])) for key in keys},
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    plot(result, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
