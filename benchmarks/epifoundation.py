"""EpiFoundation benchmarks: forward memory vs sequence length, and quality on the simulator's ``medium`` data.

Usage (from the repository root)::

    python benchmarks/epifoundation.py memory  [--lengths 512 1000 2000 4000 8000 12000]
    python benchmarks/epifoundation.py quality [--pretrain-epochs 1] [--annotate-epochs 30] [--expression-epochs 4]
    python benchmarks/epifoundation.py decoders [--epochs 30]

``memory`` runs one cell of L tokens through the reference encoder (d 512, 6 layers, 8 heads, FFN 1,024, a
100,000-peak vocabulary) on the CPU, each length in a fresh subprocess, and records its peak RSS (VmHWM)
→ ``results/epifoundation_memory.json`` + ``.png``. ``quality`` simulates ``medium`` (10,000 cells × 30,000
peaks, paired RNA, 2 batches), trains on batch0 only and tests on batch1: cell-type annotation vs LSI + kNN
label transfer, expression levels vs Signac-style gene activity, embedding metrics vs LSI, and throughput
→ ``results/epifoundation.json`` + ``epifoundation_quality.png``. Every record carries the 1-minute load
average; ``under_load`` marks figures measured while other jobs shared the cores (times are upper bounds).
``decoders`` feeds each gene-decoder style the true cell types and records how well it learns cell-specific
expression → ``results/epifoundation_decoders.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from _common import RESULTS, load_average, machine, memory_gb, write_result

REFERENCE_PEAKS = 100_000
# the CPU configuration of the quality benchmark (the "small" preset, narrowed to fit 2 shared cores)
# inner-product gene decoders: the concat-query MLP learned no cell-specific expression here (see REPORT.md);
# max_genes covers every gene of the medium data, so each step sees all of a cell's (balanced) genes
QUALITY_ARCHITECTURE = dict(preset="small", d_model=64, n_layers=2, n_heads=4, d_ff=128, max_len=512,
                            max_genes=4096, dropout=0.1, decoder="inner_product")
# every other training option is the engine's default (TrainingOptions.for_task: the "small" preset's learning
# rate, and for annotation TASK_DEFAULTS: early stopping, head warm-up, class weights), as in `make demo`
TRAINING = dict(n_threads=2)
# prediction reads up to 2,048 open peaks per cell (the medium data: median 1,238, at most 4,358; more only
# costs time, there is no positional embedding to outgrow)
INFERENCE = dict(max_len=2048, n_threads=2)


# ------------------------------------------------------------------------------------------- memory


def _forward(length: int, threads: int) -> None:
    """(Subprocess) one cell of ``length`` tokens through the reference encoder; prints a JSON record."""
    from seqatac.models.epifoundation import (
        CLS,
        N_SPECIAL,
        PRESETS,
        EpiFoundationConfig,
    )
    from seqatac.models.epifoundation._module import build_module

    torch.set_num_threads(threads)
    config = EpiFoundationConfig(n_peaks=REFERENCE_PEAKS, **PRESETS["reference"])
    module = build_module(config, seed=0).eval()
    rng = np.random.default_rng(0)
    peaks = np.sort(rng.choice(REFERENCE_PEAKS, size=length - 1, replace=False)) + N_SPECIAL
    tokens = torch.from_numpy(np.r_[CLS, peaks])
    chromosomes = torch.from_numpy(rng.integers(3, 27, size=length))
    cu_seqlens = torch.tensor([0, length])
    ready = memory_gb("VmHWM")
    started = time.perf_counter()
    with torch.inference_mode():
        embedding = module.embed_cells(tokens, chromosomes, cu_seqlens)
    seconds = time.perf_counter() - started
    print(json.dumps({
        "length": length, "seconds": seconds, "peak_rss_gb": memory_gb("VmHWM"), "rss_before_forward_gb": ready,
        "embedding_finite": bool(torch.isfinite(embedding).all()),
        "naive_attention_matrix_gb_per_layer": length**2 * config.n_heads * 4 / 2**30,
    }))


def memory(lengths: list[int], threads: int) -> dict:
    from seqatac.models.epifoundation import (
        PRESETS,
        EpiFoundationConfig,
        encoder_block_parameters,
    )

    records = []
    for length in lengths:
        load = load_average()
        run = subprocess.run([sys.executable, __file__, "_forward", "--length", str(length), "--threads",
                              str(threads)], capture_output=True, text=True, check=True)
        record = json.loads(run.stdout.strip().splitlines()[-1]) | {"load_before": load, "load_after": load_average()}
        records.append(record)
        print(f"L={length:>6}: peak RSS {record['peak_rss_gb']:.2f} GB, {record['seconds']:.1f} s (load {load})")
    config = EpiFoundationConfig(n_peaks=REFERENCE_PEAKS, **PRESETS["reference"])
    payload = {
        "what": "one cell's forward pass (inference mode, fp32) through the reference encoder on the CPU, "
                "each length in a fresh process; peak RSS is VmHWM of the whole process",
        "config": config.to_dict(), "block_parameters": encoder_block_parameters(config),
        "machine": machine(threads=threads), "records": records,
        "limit_gb": 4.0, "within_limit_at_12000": next((r["peak_rss_gb"] <= 4.0 for r in records
                                                         if r["length"] == 12_000), None),
        "under_load": any(r["load_before"] > 1.5 for r in records),
        "note": "naive attention would build an L x L matrix per head: 4.3 GiB per layer at 12,000 tokens "
                "(9.8 GB measured here for a naive full-size forward, specs/epifoundation.md)",
    }
    write_result("epifoundation_memory.json", payload)
    _plot_memory(records)
    return payload


def _plot_memory(records: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from seqatac._utils import atomic_path

    lengths = [r["length"] for r in records]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].plot(lengths, [r["peak_rss_gb"] for r in records], "o-", label="EpiFoundation (fused SDPA, packed)")
    axes[0].plot(lengths, [r["naive_attention_matrix_gb_per_layer"] + records[0]["rss_before_forward_gb"]
                           for r in records], "x--", color="grey", label="+ one naive L×L attention matrix")
    axes[0].axhline(4.0, color="red", lw=0.8, ls=":", label="4 GB limit")
    axes[0].set(xlabel="tokens in the cell", ylabel="peak RSS (GB)", title="Reference encoder, one cell, CPU")
    axes[0].legend(fontsize=7)
    axes[1].plot(lengths, [r["seconds"] for r in records], "o-")
    axes[1].set(xlabel="tokens in the cell", ylabel="forward time (s)", title="Forward time (shared 2-core CPU)")
    fig.tight_layout()
    with atomic_path(RESULTS / "epifoundation_memory.png") as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------------------------- quality


def _lognormalize(matrix):
    """Seurat ``NormalizeData``: log1p(counts / cell total × 10,000), sparse."""
    import scipy.sparse as sp

    matrix = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    matrix = sp.diags(1e4 / np.where(totals > 0, totals, 1.0)) @ matrix
    matrix.data = np.log1p(matrix.data)
    return sp.csr_matrix(matrix)


def _expression_summary(truth, predicted) -> tuple[dict, np.ndarray]:
    from seqatac.metrics import expression_metrics

    table = expression_metrics(truth, predicted)
    summary = {
        "pearson_mean": float(np.nanmean(table["pearson"])), "pearson_median": float(np.nanmedian(table["pearson"])),
        "spearman_mean": float(np.nanmean(table["spearman"])), "mse_mean": float(np.nanmean(table["mse"])),
        "n_genes_scored": int(np.isfinite(table["pearson"]).sum()),
    }
    return summary, table["pearson"].to_numpy()


def quality(epochs: dict, seed: int, workdir: Path, preset: str = "medium",
            expression_from: tuple[str, ...] = ("annotated", "pretrained")) -> dict:
    from seqatac.baselines import gene_activity, lsi
    from seqatac.metrics import annotation_metrics, benchmark
    from seqatac.models import EpiFoundation
    from seqatac.models.epifoundation import bin_expression
    from seqatac.models.epifoundation._train import TrainingOptions
    from seqatac.simulate import simulate_atac
    from sklearn.neighbors import KNeighborsClassifier

    timings, loads = {}, {"start": load_average()}
    started = time.perf_counter()
    simulation = simulate_atac(preset, random_state=seed, rna=True)
    atac, rna = simulation.atac, simulation.rna
    timings["simulate_s"] = time.perf_counter() - started
    train = (atac.obs["batch"] == "batch0").to_numpy()
    test = ~train
    labels = atac.obs["cell_type"].astype(str).to_numpy()
    atac_train, rna_train = atac[train].copy(), rna[train].copy()
    atac_test, rna_test = atac[test].copy(), rna[test].copy()
    result = {"data": {"preset": preset, "seed": seed, "cells": atac.n_obs, "peaks": atac.n_vars,
                       "genes": rna.n_vars, "train": "batch0", "test": "batch1", "n_train": int(train.sum()),
                       "n_test": int(test.sum()),
                       "median_open_peaks": float(np.median(np.diff(atac.X.indptr)))}}

    # --- baselines: LSI (all cells, unsupervised) + 15-NN label transfer; gene activity on the test cells
    started = time.perf_counter()
    lsi(atac, n_components=30, random_state=seed)
    knn = KNeighborsClassifier(n_neighbors=15).fit(atac.obsm["X_lsi"][train], labels[train])
    knn_proba = knn.predict_proba(atac.obsm["X_lsi"][test])
    lsi_annotation = annotation_metrics(labels[test], knn.classes_[knn_proba.argmax(1)], proba=knn_proba,
                                        classes=knn.classes_)
    timings["lsi_knn_s"] = time.perf_counter() - started
    activity = gene_activity(atac_test, rna_test)
    truth = _lognormalize(rna_test.X).toarray()
    truth_levels = bin_expression(rna_test.X).toarray()
    activity_expression, activity_pearson = _expression_summary(truth, _lognormalize(activity.X).toarray())
    activity_levels, _ = _expression_summary(truth_levels, _lognormalize(activity.X).toarray())

    # context: the best any predictor of cell-type-level expression can do here (batch0 type means, true labels)
    truth_all = _lognormalize(rna.X).toarray()
    type_means = {c: truth_all[train & (labels == c)].mean(0) for c in np.unique(labels)}
    oracle_expression, _ = _expression_summary(truth, np.stack([type_means[c] for c in labels[test]]))
    del truth_all

    # --- EpiFoundation: pre-train on batch0 (ATAC + RNA), then fine-tune; everything is trained on batch0 only
    EpiFoundation.setup_anndata(atac_train, labels_key="cell_type")
    model = EpiFoundation(atac, rna, random_state=seed, **QUALITY_ARCHITECTURE)
    started = time.perf_counter()
    pretrain = model.pretrain(atac_train, rna_train, max_epochs=epochs["pretrain"],
                              checkpoint_dir=str(workdir / "pretrain"), resume=True, **TRAINING)
    timings["pretrain_s"] = time.perf_counter() - started
    model.save(workdir / "pretrained", overwrite=True)
    started = time.perf_counter()
    pretrained_embedding = model.get_latent_representation(atac, **INFERENCE)
    timings["embed_all_cells_s"] = time.perf_counter() - started

    started = time.perf_counter()
    annotate = model.fit("annotate", atac_train, labels_key="cell_type", max_epochs=epochs["annotate"],
                         checkpoint_dir=str(workdir / "annotate"), resume=True, **TRAINING)
    timings["annotate_s"] = time.perf_counter() - started
    model.save(workdir / "annotated", overwrite=True)
    started = time.perf_counter()
    probabilities = model.predict_cell_type_probabilities(atac_test, **INFERENCE)
    timings["predict_cell_type_test_s"] = time.perf_counter() - started
    predicted = probabilities.columns.to_numpy()[probabilities.to_numpy().argmax(1)]
    epi_annotation = annotation_metrics(labels[test], predicted, proba=probabilities.to_numpy(),
                                        classes=probabilities.columns.to_numpy())
    annotated_embedding = model.get_latent_representation(atac, **INFERENCE)

    # expression fine-tuning from each starting point: the annotated encoder already knows the cell types
    # (batch0's labels), the pre-trained one only what the RNA taught it (no labels at all)
    expression, expression_histories, expression_pearson = {}, {}, {}
    for start in expression_from:
        model = EpiFoundation.load(workdir / start)
        started = time.perf_counter()
        expression_histories[start] = model.fit(
            "expression", atac_train, rna_train, max_epochs=epochs["expression"],
            checkpoint_dir=str(workdir / f"expression_from_{start}"), resume=True, **TRAINING)
        timings[f"expression_from_{start}_s"] = time.perf_counter() - started
        started = time.perf_counter()
        predicted_levels = model.predict_expression(atac_test, genes=rna_test.var_names, **INFERENCE)
        timings[f"predict_expression_from_{start}_test_s"] = time.perf_counter() - started
        summary, expression_pearson[start] = _expression_summary(truth, predicted_levels)
        expression[start] = summary | {"against_true_levels": _expression_summary(truth_levels, predicted_levels)[0]}

    # --- embeddings (all cells, both batches)
    started = time.perf_counter()
    table = benchmark({"LSI": atac.obsm["X_lsi"], "EpiFoundation pre-trained": pretrained_embedding,
                       "EpiFoundation annotation-fine-tuned": annotated_embedding},
                      labels, atac.obs["batch"].astype(str).to_numpy(), random_state=seed, verbose=False)
    timings["embedding_metrics_s"] = time.perf_counter() - started
    loads["end"] = load_average()

    n_test = int(test.sum())
    histories = {"pretrain": pretrain, "annotate": annotate,
                 **{f"expression (from {start})": h for start, h in expression_histories.items()}}
    result |= {
        "architecture": {**QUALITY_ARCHITECTURE, "parameters": sum(p.numel() for p in model.module.parameters())},
        "training": {**TRAINING, "epochs": epochs, "epochs_run": {name: len(h) for name, h in histories.items()},
                     "resolved": {task: {k: v for k, v in asdict(TrainingOptions.for_task(
                         task, {**TRAINING, "max_epochs": epochs[task]}, QUALITY_ARCHITECTURE["preset"])).items()
                         if k not in ("checkpoint_dir", "resume", "verbose")} for task in epochs}},
        "inference": INFERENCE,
        "annotation": {"lsi_knn": lsi_annotation, "epifoundation": epi_annotation,
                       "accuracy_at_least_lsi_knn": epi_annotation["accuracy"] >= lsi_annotation["accuracy"]},
        "expression": {
            "truth": "log1p(CP10k) of the test cells' RNA; predictions: EpiFoundation levels, gene activity "
                     "log1p(CP10k) (Seurat NormalizeData), per-gene Pearson/Spearman over test cells",
            "gene_activity": activity_expression | {"against_true_levels": activity_levels},
            **{f"epifoundation_from_{start}": summary for start, summary in expression.items()},
            "cell_type_mean_oracle": oracle_expression,
            "pearson_ratio": {start: expression[start]["pearson_mean"] / activity_expression["pearson_mean"]
                              for start in expression},
            "pearson_at_least_2_5x_gene_activity": {
                start: expression[start]["pearson_mean"] >= 2.5 * activity_expression["pearson_mean"]
                for start in expression},
        },
        "embedding_metrics": json.loads(table.to_json(orient="index")),
        "throughput": {
            "train_cells_per_s": {name: float(np.mean(h["cells_per_s"])) for name, h in histories.items()},
            "train_tokens_per_s": {name: float(np.mean(h["tokens_per_s"])) for name, h in histories.items()},
            "embed_cells_per_s": atac.n_obs / timings["embed_all_cells_s"],
            "predict_cell_type_cells_per_s": n_test / timings["predict_cell_type_test_s"],
            "predict_expression_cells_per_s": n_test / timings[f"predict_expression_from_{expression_from[0]}_test_s"],
        },
        "history": {name: h.to_dict(orient="list") for name, h in histories.items()},
        "timings_s": timings, "load": loads, "under_load": max(loads.values()) > 1.5,
        "machine": machine(),
    }
    write_result("epifoundation.json" if preset == "medium" else f"epifoundation_{preset}.json", result)
    _plot_quality(result, activity_pearson, expression_pearson)
    return result


def _plot_quality(result: dict, activity_pearson: np.ndarray, epi_pearson: dict[str, np.ndarray]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from seqatac._utils import atomic_path

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    annotation = result["annotation"]
    names, width = ["accuracy", "macro_f1"], 0.38
    for offset, (label, key) in zip((-width / 2, width / 2), (("LSI + 15-NN", "lsi_knn"),
                                                              ("EpiFoundation", "epifoundation"))):
        axes[0].bar(np.arange(2) + offset, [annotation[key][n] for n in names], width, label=label)
    axes[0].set_xticks(np.arange(2), names)
    low = min(annotation[k][n] for k in ("lsi_knn", "epifoundation") for n in names)
    axes[0].set(ylim=(max(0.0, low - 0.1), 1.0), title="Annotation of the held-out batch")
    axes[0].legend(fontsize=8)
    bins = np.linspace(-0.2, 1.0, 49)
    axes[1].hist(activity_pearson[np.isfinite(activity_pearson)], bins=bins, alpha=0.6, label="gene activity")
    for start, pearson in epi_pearson.items():
        axes[1].hist(pearson[np.isfinite(pearson)], bins=bins, alpha=0.6, label=f"EpiFoundation (from {start})")
    axes[1].set(xlabel="per-gene Pearson (held-out batch)", ylabel="genes", title="Expression prediction")
    axes[1].legend(fontsize=8)
    for task, history in result["history"].items():
        axes[2].plot(history["epoch"], np.asarray(history["loss"]) / history["loss"][0], "o-", label=task)
    axes[2].set(xlabel="epoch", ylabel="loss / first-epoch loss", title="Training loss")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    name = "epifoundation_quality.png" if result["data"]["preset"] == "medium" else \
        f"epifoundation_quality_{result['data']['preset']}.png"
    with atomic_path(RESULTS / name) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------------------------- decoders


def decoders(epochs: int, seed: int, preset: str = "small", lr: float = 3e-3) -> dict:
    """Which gene decoder can learn cell-specific expression at all? Each decoder style gets the *true* cell
    type (a learned embedding per type) as its cell input, so only the decoder is being tested; expression
    levels of batch0 train it (MSE, 512 random genes per cell, 32 cells per step), per-gene Pearson against
    log1p(CP10k) of batch1 scores it after every epoch."""
    from seqatac.models.epifoundation import bin_expression
    from seqatac.models.epifoundation._module import DECODERS
    from seqatac.simulate import simulate_atac

    simulation = simulate_atac(preset, random_state=seed, rna=True)
    atac, rna = simulation.atac, simulation.rna
    train = np.flatnonzero((atac.obs["batch"] == "batch0").to_numpy())
    test = np.flatnonzero((atac.obs["batch"] != "batch0").to_numpy())
    cell_type = torch.from_numpy(atac.obs["cell_type"].cat.codes.to_numpy().astype(np.int64))
    levels = torch.from_numpy(bin_expression(rna.X).toarray())
    truth = _lognormalize(rna.X[test]).toarray()
    n_types, n_genes, d = int(cell_type.max()) + 1, rna.n_vars, 64
    labels = atac.obs["cell_type"].astype(str).to_numpy()
    truth_train = _lognormalize(rna.X[train]).toarray()
    oracle = np.stack([truth_train[labels[train] == c].mean(0) for c in labels[test]])
    result = {"preset": preset, "seed": seed, "epochs": epochs, "lr": lr,
              "cell_type_mean_oracle_pearson": _expression_summary(truth, oracle)[0]["pearson_mean"], "styles": {}}
    torch.set_num_threads(2)
    for style, decoder_class in DECODERS.items():
        rng = np.random.default_rng(seed)
        with torch.random.fork_rng():  # torch's default initialisation, seeded, without touching the caller's RNG
            torch.manual_seed(seed)
            type_embedding, gene_embedding = torch.nn.Embedding(n_types, d), torch.nn.Embedding(n_genes, d)
            decoder = decoder_class(d, d, 128, 1)
        parameters = [*type_embedding.parameters(), *gene_embedding.parameters(), *decoder.parameters()]
        optimizer = torch.optim.Adam(parameters, lr=lr)
        pearson, started = [], time.perf_counter()
        for _ in range(epochs):
            order = rng.permutation(train)
            for begin in range(0, len(order), 32):
                cells = torch.from_numpy(order[begin:begin + 32])
                genes = torch.from_numpy(rng.integers(0, n_genes, size=(len(cells), 512)))
                target = levels[cells.unsqueeze(1), genes]
                output = decoder(type_embedding(cell_type[cells]), gene_embedding(genes)).squeeze(-1)
                loss = torch.mean((output - target) ** 2)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                all_genes = gene_embedding.weight.unsqueeze(0)
                predicted = torch.cat([decoder(type_embedding(cell_type[torch.from_numpy(chunk)]),
                                               all_genes.expand(len(chunk), -1, -1)).squeeze(-1)
                                       for chunk in np.array_split(test, max(1, len(test) // 256))]).numpy()
            pearson.append(_expression_summary(truth, predicted)[0]["pearson_mean"])
            print(f"{style}: epoch {len(pearson)}, per-gene Pearson {pearson[-1]:.3f}", flush=True)
        result["styles"][style] = {"pearson_by_epoch": pearson, "seconds": time.perf_counter() - started}
    write_result("epifoundation_decoders.json", result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    mem = commands.add_parser("memory")
    mem.add_argument("--lengths", type=int, nargs="+", default=[512, 1000, 2000, 4000, 8000, 12_000])
    mem.add_argument("--threads", type=int, default=2)
    forward = commands.add_parser("_forward")
    forward.add_argument("--length", type=int, required=True)
    forward.add_argument("--threads", type=int, default=2)
    qual = commands.add_parser("quality")
    qual.add_argument("--pretrain-epochs", type=int, default=1)
    qual.add_argument("--annotate-epochs", type=int, default=30, help="at most (early stopping); the engine's default")
    qual.add_argument("--expression-epochs", type=int, default=4)
    qual.add_argument("--seed", type=int, default=0)
    qual.add_argument("--preset", default="medium", help="simulator preset (medium for the report; tiny to smoke-test)")
    qual.add_argument("--workdir", default=None, help="checkpoints (rerunning resumes); default: a temp dir")
    qual.add_argument("--expression-from", nargs="+", default=["annotated"],
                      choices=["annotated", "pretrained"],
                      help="fine-tune expression from the annotation-tuned and/or the pre-trained weights")
    probe = commands.add_parser("decoders")
    probe.add_argument("--epochs", type=int, default=30)
    probe.add_argument("--seed", type=int, default=0)
    probe.add_argument("--preset", default="small")
    args = parser.parse_args(argv)
    if args.command == "decoders":
        decoders(args.epochs, args.seed, args.preset)
    elif args.command == "_forward":
        _forward(args.length, args.threads)
    elif args.command == "memory":
        memory(args.lengths, args.threads)
    else:
        epochs = {"pretrain": args.pretrain_epochs, "annotate": args.annotate_epochs,
                  "expression": args.expression_epochs}
        if args.workdir:
            quality(epochs, args.seed, Path(args.workdir), args.preset, tuple(args.expression_from))
        else:
            with tempfile.TemporaryDirectory() as workdir:
                quality(epochs, args.seed, Path(workdir), args.preset, tuple(args.expression_from))
    return 0


if __name__ == "__main__":
    sys.exit(main())
