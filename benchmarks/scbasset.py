"""scBasset benchmarks: CPU training-step speed, bf16-vs-fp32 quality, and training memory at scale.

Usage (from the repository root)::

    python benchmarks/scbasset.py speed   [--steps 5] [--threads 2]
    python benchmarks/scbasset.py quality [--epochs 8]
    python benchmarks/scbasset.py planted [--seeds 10] [--epochs 40]
    python benchmarks/scbasset.py memory  [--cells 100000] [--peaks 50000] [--seconds 240]
    python benchmarks/scbasset.py medium  [--preset medium] [--epochs 20] [--bc-lambda 1e-6 ...] [--backgrounds 1000]
                                          [--ism-peaks 64] [--device auto] [--threads 2] [--checkpoint-dir DIR]
    python benchmarks/scbasset.py convergence [--preset small] [--epochs 60] [--every 5] [--checkpoint-dir DIR]
    python benchmarks/scbasset.py time_to_quality [--preset small] [--recipes fast authors] [--minutes 12]
    python benchmarks/scbasset.py ttq_analyses [--preset small] [--recipe fast] [--backgrounds 300] [--ism-peaks 16]

Each part writes ``benchmarks/results/scbasset_<part>.json`` (``medium`` on another preset:
``scbasset_medium_<preset>.json``, rewritten after every stage with ``complete`` and ``stages_done`` so that a
run cut short keeps what it measured). Medium (issue 3): plain scBasset trained ``--epochs`` epochs on the
simulator preset (throughput, peak RSS, device, precision), held-out auROC/auPR, label score / Leiden ARI-NMI /
iLISI against LSI and chromVAR z-scores, TF activity of the simulator's JASPAR panel (correlation with the
true activity, primary-driver rank), ISM auROC at planted motif positions, scBasset-BC per λ, and pass/fail
of the acceptance points; plus ``scbasset_medium.png`` on ``medium``. Convergence: label score (k = 50) and
auROC of plain scBasset every ``--every`` epochs against LSI's (``scbasset_convergence_<preset>.json``, rewritten
after each chunk, and ``.png``): how many epochs the cell embedding needs. Time to quality (issue 18): per training recipe (``fit(recipe="authors")``, the
default, and ``recipe="fast"``), the same wall-time budget of training on a preset, the label score (k = 50) after
every epoch against LSI's on the same cells, the first epoch and wall time at which it reaches LSI's (and 98 % of
it), and held-out test auROC at the end (``scbasset_time_to_quality_<preset>.json`` and ``.png``, load average
with every record); ``ttq_analyses`` then measures TF driver recovery, ISM at planted positions and denoised vs
true p on the fast model from its checkpoint. Speed: one training step (forward, BCE,
backward, Adam) of the default architecture on 128 peaks × 2,034 cells, as the reference numbers in
specs/scbasset.md (authors' TF 2.15 fp32 1.32 s; plain PyTorch eager fp32 3.0 s; Conv2d channels-last +
bf16 probe 0.91 s, idle 2 cores). Every record carries the 1-minute load average before and after, and
``under_load`` is set when other processes competed for the cores (those figures are upper bounds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import RESULTS, load_average, machine, memory_gb, write_result

STEP_GFLOP = None  # set in main() (needs seqatac importable)


def _write(name: str, payload: dict) -> None:
    write_result(f"scbasset_{name}.json", payload)
    print(json.dumps(payload, indent=2))


def _machine(threads: int) -> dict:
    from seqatac._torch import cpu_supports_bf16

    return machine(threads=threads, native_bf16=cpu_supports_bf16())


# ------------------------------------------------------------------------------------------- speed


def _step_gflop(n_cells: int = 2034, batch: int = 128) -> float:
    """FLOPs of one training step: forward, input gradients (not of the stem) and weight gradients."""
    from seqatac.models.scbasset import ScBassetConfig

    config = ScBassetConfig(n_cells=n_cells)
    length, channels = config.seq_len, 4
    forward = [length * config.stem_kernel_size * channels * config.n_filters_init]
    length, channels = math.ceil(length / config.stem_pool_size), config.n_filters_init
    for filters in config.tower_filters:
        forward.append(length * config.tower_kernel_size * channels * filters)
        length, channels = math.ceil(length / config.tower_pool_size), filters
    forward.append(length * channels * config.n_filters_pre_bottleneck)
    forward.append(length * config.n_filters_pre_bottleneck * config.bottleneck_size
                   + config.bottleneck_size * n_cells)
    macs = batch * (2 * sum(forward) + sum(forward[1:]))  # forward + weight grads + input grads
    return 2 * macs / 1e9


def _step_timer(variant: str, steps: int, n_cells: int = 2034, batch: int = 128) -> dict:
    """Median wall time of a full training step, as the Trainer runs it (fused Adam, fp32 heads)."""
    from seqatac._torch import autocast
    from seqatac.models.scbasset import ScBassetConfig, ScBassetModule
    from seqatac.tl import codes_to_onehot

    generator = torch.Generator().manual_seed(0)
    module = ScBassetModule(ScBassetConfig(n_cells=n_cells))
    module.reset_parameters(generator)
    module.use_channels_last(variant != "fp32_contiguous")
    optimizer = torch.optim.Adam(module.parameters(), lr=0.01, betas=(0.95, 0.9995), eps=1e-7, fused=True)
    codes = torch.randint(0, 4, (batch, 1344), generator=generator)
    targets = (torch.rand(batch, n_cells, generator=generator) < 0.05).float()
    precision = "bf16" if variant.startswith("bf16") else "fp32"
    device = torch.device("cpu")
    module.train()

    def step():
        x = codes_to_onehot(codes)
        with autocast(device, precision):
            outputs = module(x, dropout_generator=generator)
        loss = module.loss(outputs, targets)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    walls, cpus = [], []
    for _ in range(steps):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"variant": variant, "median_s_per_step": statistics.median(walls), "min_s_per_step": min(walls),
            "cpu_s_per_step": statistics.median(cpus)}


def _matmul_peak(dtype: torch.dtype, size: int = 4096, repeats: int = 5) -> dict:
    """Best GFLOP/s of a large square matmul (oneDNN/MKL's best case): an upper bound on any step's speed."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator).to(dtype) for _ in range(2))
    a @ b
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        walls.append(time.perf_counter() - started)
    gflop_per_s = 2 * size**3 / min(walls) / 1e9
    return {"dtype": str(dtype).removeprefix("torch."), "size": size, "gflop_per_s": gflop_per_s,
            "step_floor_s": STEP_GFLOP / gflop_per_s}


def speed(args) -> None:
    """Step time per variant; with one thread the process CPU time is a contention-robust measure.

    The matmul peaks bound what any implementation can reach here: a step needs ``STEP_GFLOP``, so it
    cannot take less than ``STEP_GFLOP`` / (the best bf16 matmul rate of these cores).
    """
    torch.set_num_threads(args.threads)
    before = load_average()
    peaks = [_matmul_peak(dtype) for dtype in (torch.float32, torch.bfloat16)]
    peaks_load = {"load_before": before, "load_after": load_average()}
    print(peaks, flush=True)
    records = []
    for variant in ("fp32_contiguous", "fp32_channels_last", "bf16_channels_last"):
        before = load_average()
        record = _step_timer(variant, args.steps)
        record.update(load_before=before, load_after=load_average())
        record["under_load"] = max(before, record["load_after"]) > 1.5 * args.threads / 2 + 0.5
        # with perfect parallel scaling and no competition, wall time = CPU time / threads
        record["idle_estimate_s_per_step"] = record["cpu_s_per_step"] / args.threads
        record["gflop_per_s_by_cpu_time"] = STEP_GFLOP / record["idle_estimate_s_per_step"]
        records.append(record)
        print(record, flush=True)
    _write(f"speed_threads{args.threads}", {
        "machine": _machine(args.threads), "shape": "128 peaks x 2,034 cells, seq_len 1344",
        "gflop_per_step": STEP_GFLOP, "matmul_peak": peaks, "matmul_peak_load": peaks_load,
                     "reference_s_per_step": {"authors_tf_fp32": 1.32, "plain_pytorch_fp32": 3.0,
                                              "probe_conv2d_channels_last_bf16": 0.91, "target": 0.66},
                     "records": records})


# ------------------------------------------------------------------------------------------- quality


def quality(args) -> None:
    """Held-out auROC of the default architecture trained in fp32 and in bf16 on the same simulated data."""
    from seqatac.models import ScBasset
    from seqatac.simulate import simulate_atac

    torch.set_num_threads(args.threads)
    simulation = simulate_atac(args.preset, random_state=0)
    records = []
    for precision in ("fp32", "bf16"):
        before, started = load_average(), time.perf_counter()
        model = ScBasset(simulation.atac, simulation.genome, random_state=0)
        model.fit(max_epochs=args.epochs, early_stopping=False, device="cpu", precision=precision,
                  verbose=False)
        records.append({"precision": precision, **model.evaluate("test")["summary"],
                        "final_train_auroc": float(model.history["train_auroc"].iloc[-1]),
                        "final_val_auroc": float(model.history["val_auroc"].iloc[-1]),
                        "seconds": time.perf_counter() - started, "load_before": before, "load_after": load_average()})
        print(records[-1], flush=True)
    _write("quality", {"machine": _machine(args.threads), "preset": args.preset, "epochs": args.epochs,
                       "records": records})


def planted(args) -> None:
    """Paired fp32-vs-bf16 held-out per-cell auROC over seeds, on the tests' planted-motif data (small model)."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "python"))
    from seqatac.models import ScBasset
    from test_scbasset import SMALL, planted_data

    adata, genome, _ = planted_data()
    scores = {}
    for precision in ("fp32", "bf16"):
        scores[precision] = []
        for seed in range(args.seeds):
            model = ScBasset(adata, genome, random_state=seed, **SMALL)
            model.fit(max_epochs=args.epochs, batch_size=32, device="cpu", precision=precision, verbose=False,
                      n_threads=1)
            scores[precision].append(model.evaluate("test")["summary"]["auroc_per_cell"])
    difference = np.subtract(scores["bf16"], scores["fp32"])
    _write("planted", {"machine": _machine(1), "epochs": args.epochs, "seeds": args.seeds,
                       "auroc_per_cell": scores, "mean": {k: float(np.mean(v)) for k, v in scores.items()},
                       "paired_difference_bf16_minus_fp32": {"mean": float(difference.mean()),
                                                             "sd": float(difference.std(ddof=1))}})


# ------------------------------------------------------------------------------------------- memory

_MEMORY_CHILD = """
import sys, time, numpy as np, pandas as pd, scipy.sparse as sp, anndata as ad
from seqatac.data import Genome
from seqatac.models import ScBasset
n_cells, n_peaks, density = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rng = np.random.default_rng(0)
# random binary CSR, built row block by row block (never dense)
blocks = []
for start in range(0, n_cells, 10000):
    rows = min(10000, n_cells - start)
    nnz = rng.binomial(n_peaks, density, rows)
    row_of = np.repeat(np.arange(rows, dtype=np.int32), nnz)
    cols = rng.integers(0, n_peaks, nnz.sum(), dtype=np.int32)
    block = sp.csr_matrix((np.ones(len(cols), np.float32), (row_of, cols)), shape=(rows, n_peaks))
    block.sum_duplicates()
    block.data[:] = 1
    blocks.append(block)
X = sp.vstack(blocks, format="csr")
del blocks, block, row_of, cols
width, gap = 500, 100
chrom = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, n_peaks * (width + gap) + 2000)].tobytes().decode()
starts = 1000 + np.arange(n_peaks) * (width + gap)
var = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + width}, index=[f"chr1:{s}-{s+width}" for s in starts])
adata = ad.AnnData(X=X, var=var, obs=pd.DataFrame(index=[f"c{i}" for i in range(n_cells)]))
genome = Genome.from_dict({"chr1": chrom})
print("data ready", flush=True)
model = ScBasset(adata, genome, random_state=0)
print("model ready", flush=True)
model.fit(max_epochs=1, device="cpu", verbose=True)
"""


def memory(args) -> None:
    """Peak RSS of building and training scBasset on a synthetic cells × peaks matrix (stopped after a while)."""
    import tempfile

    progress = tempfile.TemporaryFile(mode="w+")  # the child's progress bars
    child = subprocess.Popen([sys.executable, "-c", _MEMORY_CHILD, str(args.cells), str(args.peaks),
                              str(args.density)], stdout=subprocess.PIPE, stderr=progress, text=True)
    started, peak, stages = time.perf_counter(), 0, {}
    os.set_blocking(child.stdout.fileno(), False)
    while child.poll() is None and time.perf_counter() - started < args.seconds:
        peak = max(peak, memory_gb("VmHWM", child.pid))
        line = child.stdout.readline()
        if line:
            stages[line.strip()] = {"seconds": time.perf_counter() - started, "peak_rss_gb": peak}
        time.sleep(0.5)
    if child.poll() is None:
        peak = max(peak, memory_gb("VmHWM", child.pid))
        child.kill()
    child.wait()
    progress.seek(0)
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", progress.read()).replace("\r", "\n")
    bars = [part.strip() for part in text.splitlines() if "step" in part]
    _write("memory", {"cells": args.cells, "peaks": args.peaks, "density": args.density,
                      "seconds_observed": time.perf_counter() - started, "stages": stages,
                      "peak_rss_gb": peak, "limit_gb": 8.0, "load": load_average(),
                      "last_progress": bars[-1] if bars else None,
                      "note": "training stopped after seconds_observed; the peak covers data loading, the "
                              "peak-major CSR, sequence encoding and the first training steps"})


# ------------------------------------------------------------------------------------------- medium


def _finite(value) -> float | None:
    """A float for JSON, None for NaN."""
    return None if value is None or not np.isfinite(value) else float(value)


def _medium_training(model, session_seconds: float) -> dict:
    """Throughput, memory, device and precision of one fit (``history`` covers every session of a resumed run)."""
    history = model.history
    seconds = history["seconds"].to_numpy(float)
    n_train = len(model.splits["train"])
    training = model.params["training"]
    device = training["device"]
    record = {
        "epochs": int(len(history)),
        "n_train_peaks": n_train,
        "steps_per_epoch": math.ceil(n_train / training["batch_size"]),
        "device": device,
        "precision": training["precision"],
        "s_per_epoch_median": float(np.median(seconds)),
        "s_per_epoch_mean": float(seconds.mean()),
        "train_seconds_all_sessions": float(seconds.sum()),
        "session_seconds": session_seconds,
        "peaks_per_s": n_train / float(np.median(seconds)),  # epoch time includes the validation pass
        "peak_rss_gb": memory_gb("VmHWM"),
        "final_train_auroc": float(history["train_auroc"].iloc[-1]),
        "final_val_auroc": float(history["val_auroc"].iloc[-1]),
        "history": history.to_dict(orient="records"),
    }
    if device.startswith("cuda"):
        record["cuda_max_allocated_gb"] = torch.cuda.max_memory_allocated() / 2**30
        record["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return record


def _medium_fit(args, adata, genome, name: str, *, batch_key: str | None = None, l2_cell: float = 0.0):
    """Build and train one scBasset (plain or BC) with the authors' defaults; checkpointed and resumable."""
    from seqatac.models import ScBasset

    ScBasset.setup_anndata(adata, batch_key=batch_key)
    model = ScBasset(adata, genome, l2_cell=l2_cell, random_state=args.seed)
    checkpoint = Path(args.checkpoint_dir) / f"{args.preset}_seed{args.seed}_{name}" if args.checkpoint_dir else None
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    print(f"== {name}: {model}", flush=True)
    started = time.perf_counter()
    model.fit(max_epochs=args.epochs, device=args.device, precision=args.precision, n_threads=args.threads,
              checkpoint_dir=checkpoint, resume=checkpoint is not None, verbose=True)
    training = _medium_training(model, time.perf_counter() - started)
    print(f"  {name} training:", json.dumps({k: v for k, v in training.items() if k != "history"}), flush=True)
    return model, training


def _medium_ism(model, adata, truth, labels, n_peaks: int, seed: int) -> dict:
    """ISM over a seeded sample of held-out peaks with planted motifs, scored against the planted positions.

    Importance (cells × positions, ``seqatac.tl.ism`` through :meth:`ScBasset.get_ism`) is reduced over cells
    two ways: the mean absolute importance over all cells, and the largest absolute per-type mean.
    """
    import pandas as pd
    from seqatac.metrics import ism_position_auroc
    from tqdm.auto import tqdm

    instances = truth["motif_instances"]
    test_names = model.regions.index[model.splits["test"]]
    candidates = np.sort(np.asarray(pd.Index(instances["peak_name"].unique()).intersection(test_names)))
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(candidates, size=min(n_peaks, len(candidates)), replace=False))
    types = pd.unique(labels)
    reductions = {"mean_abs_over_cells": [], "max_abs_type_mean": []}
    masks, per_peak = [], []
    started = time.perf_counter()
    for name in tqdm(chosen, desc="ISM", unit="peak"):
        chrom, start, end = model.regions.loc[name, ["chrom", "start", "end"]]
        importance = model.get_ism(region=(chrom, int(start), int(end)))[0]  # (n_cells, end - start)
        mask = np.zeros(int(end) - int(start), dtype=bool)
        for site in instances[instances["peak_name"] == name].itertuples():
            mask[site.start:site.end] = True
        type_means = np.stack([importance[labels == t].mean(axis=0) for t in types])
        scores = {"mean_abs_over_cells": np.abs(importance).mean(axis=0),
                  "max_abs_type_mean": np.abs(type_means).max(axis=0)}
        for key, value in scores.items():
            reductions[key].append(value)
        masks.append(mask)
        per_peak.append({"peak": str(name), "n_planted_positions": int(mask.sum()),
                         "tfs": sorted(set(instances.loc[instances["peak_name"] == name, "tf"])),
                         **{f"auroc_{k}": _finite(ism_position_auroc(v, mask)) for k, v in scores.items()}})
    out = {"n_peaks": int(len(chosen)), "n_candidate_peaks": int(len(candidates)), "split": "test",
           "seconds": time.perf_counter() - started, "n_cells": int(adata.n_obs)}
    if not len(chosen):
        return out
    pooled_mask = np.concatenate(masks)
    out["planted_position_fraction"] = float(pooled_mask.mean())
    for key, values in reductions.items():
        out[f"auroc_{key}"] = _finite(ism_position_auroc(np.concatenate(values), pooled_mask))
        per_sequence = [p[f"auroc_{key}"] for p in per_peak if p[f"auroc_{key}"] is not None]
        out[f"auroc_{key}_per_peak_median"] = float(np.median(per_sequence)) if per_sequence else None
    out["per_peak"] = per_peak
    return out


def _medium_tf_scores(activity, adata, truth, labels) -> dict:
    """Correlation with the simulator's per-cell TF activity and primary-driver recovery (as cellspace.py)."""
    from cellspace import driver_summary, tf_names
    from seqatac.metrics import tf_activity_correlation

    tfs = truth["tfs"]
    activity = tf_names(activity, truth)
    correlation = tf_activity_correlation(activity, adata.obsm["true_tf_activity"])
    role = tfs["role"].where(tfs["used"], "unused").reindex(correlation.index)

    def mean_of(roles) -> float | None:
        values = correlation[role.isin(roles).to_numpy() & correlation.notna().to_numpy()]
        return _finite(values.mean()) if len(values) else None

    return {
        "pearson": {tf: _finite(r) for tf, r in correlation.items()},
        "pearson_mean_used": mean_of(["activator", "repressor", "constitutive"]),
        "pearson_mean_used_activators": mean_of(["activator"]),
        "pearson_mean_used_repressors": mean_of(["repressor"]),
        "note": "Pearson across cells per TF; null where the true activity is constant (unused TFs, CTCF)",
        "driver_tf": driver_summary(activity, labels, truth),
    }


def _medium_plot(result: dict, path: Path) -> None:
    """Bars of label score (k = 50) and iLISI per embedding."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["scbasset", "lsi", "chromvar"] + [f"scbasset_bc_{run['lambda']:g}" for run in result["scbasset_bc"]]
    metrics = [result["embeddings"][name] for name in names[:3]] + [run["metrics"] for run in result["scbasset_bc"]]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    for ax, key, title in ((axes[0], "label_score_k50", "label score (k = 50)"), (axes[1], "ilisi_batch", "iLISI (batch)")):
        bars = ax.bar(range(len(names)), [m[key] for m in metrics], color=["#1f77b4", "#999999", "#bbbbbb"]
                      + ["#ff7f0e"] * (len(names) - 3))
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
        ax.set_xticks(range(len(names)), [n.replace("scbasset_bc_", "BC λ=") for n in names], rotation=30,
                      ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"scBasset on simulator '{result['preset']}' ({result['epochs']} epochs)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def medium(args) -> None:
    """Issue 3's quality benchmark: scBasset vs LSI and chromVAR, TF activity, ISM and scBasset-BC on a preset."""
    from cellspace import embedding_metrics
    from seqatac.baselines import chromvar_deviations, lsi
    from seqatac.data import jaspar
    from seqatac.simulate import simulate_atac

    torch.set_num_threads(args.threads)
    load_before, started = load_average(), time.perf_counter()
    sim = simulate_atac(args.preset, random_state=args.seed, rna=False)
    adata, truth = sim.atac, sim.truth
    labels = adata.obs["cell_type"].astype(str).to_numpy()
    batch = adata.obs["batch"].astype(str).to_numpy()
    panel = jaspar(ids=list(truth["tfs"]["motif_id"]))
    result: dict = {
        "command": " ".join(["python benchmarks/scbasset.py", *sys.argv[1:]]),
        "preset": args.preset, "seed": args.seed, "epochs": args.epochs, "threads": args.threads,
        "data": {"n_cells": int(adata.n_obs), "n_peaks": int(adata.n_vars), "n_cell_types": int(len(set(labels))),
                 "n_batches": int(len(set(batch))), "density": float(truth["summary"]["density"])},
        "machine": _machine(args.threads), "load_before": load_before, "complete": False, "stages_done": [],
    }
    suffix = "" if args.preset == "medium" else f"_{args.preset}"

    def stage_done(stage: str) -> None:  # a run cut short (hours on CPU) keeps what it measured
        result["stages_done"].append(stage)
        write_result(f"scbasset_medium{suffix}.json", result)

    # 1-2. plain scBasset: training throughput and held-out peaks
    model, result["training"] = _medium_fit(args, adata, sim.genome, "scbasset")
    result["heldout_test"] = model.evaluate("test")["summary"]
    print("  held-out:", json.dumps(result["heldout_test"]), flush=True)
    stage_done("training")

    # 3. embeddings against LSI and chromVAR-style deviations (per-motif z-scores of the panel as features)
    lsi(adata, random_state=0)
    chromvar_deviations(adata, panel, genome=sim.genome, random_state=0)
    chromvar = adata.obsm["chromvar"].to_numpy(float)
    finite = np.isfinite(chromvar).all(axis=0)
    embeddings = {"scbasset": model.get_latent_representation(), "lsi": adata.obsm["X_lsi"],
                  "chromvar": chromvar[:, finite]}
    result["embeddings"] = {}
    for name, X in embeddings.items():
        result["embeddings"][name] = embedding_metrics(X, labels, batch)
        print(f"  {name}:", json.dumps(result["embeddings"][name]), flush=True)
    result["embeddings"]["chromvar"]["n_features"] = int(finite.sum())
    stage_done("embeddings")

    # 4. TF activity by motif insertion (and chromVAR's deviations as the baseline TF activity)
    tf_started = time.perf_counter()
    activity = model.get_tf_activity(panel, n_backgrounds=args.backgrounds, random_state=0, verbose=True)
    result["tf_activity"] = {"n_backgrounds": args.backgrounds, "n_motifs": len(panel),
                             "seconds": time.perf_counter() - tf_started,
                             **_medium_tf_scores(activity, adata, truth, labels)}
    result["tf_activity_chromvar"] = _medium_tf_scores(adata.obsm["chromvar"], adata, truth, labels)
    print("  TF activity:", json.dumps({k: v for k, v in result["tf_activity"].items() if k != "pearson"}), flush=True)
    stage_done("tf_activity")

    # 5. ISM at planted motif positions
    result["ism"] = _medium_ism(model, adata, truth, labels, args.ism_peaks, args.seed)
    print("  ISM:", json.dumps({k: v for k, v in result["ism"].items() if k != "per_peak"}), flush=True)
    stage_done("ism")
    plain = result["embeddings"]["scbasset"]
    del model

    # 6. scBasset-BC, one run per λ (L2 on the cell-embedding weights)
    result["scbasset_bc"] = []
    for l2 in args.bc_lambda:
        bc, training = _medium_fit(args, adata, sim.genome, f"scbasset_bc_l2_{l2:g}", batch_key="batch", l2_cell=l2)
        metrics = embedding_metrics(bc.get_latent_representation(), labels, batch)
        run = {"lambda": l2, "training": training, "heldout_test": bc.evaluate("test")["summary"], "metrics": metrics,
               "ilisi_gain": metrics["ilisi_batch"] - plain["ilisi_batch"],
               "label_score_loss": plain["label_score_k50"] - metrics["label_score_k50"]}
        run["accepted"] = bool(run["ilisi_gain"] > 0 and run["label_score_loss"] <= 0.05)
        result["scbasset_bc"].append(run)
        print(f"  BC λ={l2:g}:", json.dumps({k: v for k, v in run.items() if k != "training"}), flush=True)
        stage_done(f"bc_{l2:g}")
        del bc

    # 7. acceptance and output
    result["acceptance"] = {
        "label_score_k50_ge_lsi": bool(plain["label_score_k50"] >= result["embeddings"]["lsi"]["label_score_k50"]),
        "driver_top3_fraction_ge_0.8": bool(result["tf_activity"]["driver_tf"]["top3_fraction"] >= 0.8),
        "ism_auroc_ge_0.8": bool((result["ism"].get("auroc_mean_abs_over_cells") or 0.0) >= 0.8),
        "bc_ilisi_gain_and_label_score_loss_le_0.05": bool(any(run["accepted"] for run in result["scbasset_bc"])),
    }
    result["load_after"] = load_average()
    result["wall_seconds"] = time.perf_counter() - started
    result["peak_rss_gb"] = memory_gb("VmHWM")
    print("  acceptance:", json.dumps(result["acceptance"]), flush=True)
    result["complete"] = True
    stage_done("acceptance")
    if args.preset == "medium":
        _medium_plot(result, RESULTS / "scbasset_medium.png")


def convergence(args) -> None:
    """Label score of plain scBasset's cell embedding every ``args.every`` epochs, against LSI's, on a preset."""
    from cellspace import embedding_metrics
    from seqatac.baselines import lsi
    from seqatac.models import ScBasset
    from seqatac.simulate import simulate_atac

    torch.set_num_threads(args.threads)
    sim = simulate_atac(args.preset, random_state=args.seed, rna=False)
    adata = sim.atac
    labels = adata.obs["cell_type"].astype(str).to_numpy()
    batch = adata.obs["batch"].astype(str).to_numpy()
    lsi(adata, random_state=0)
    result = {"command": " ".join(["python benchmarks/scbasset.py", *sys.argv[1:]]), "preset": args.preset,
              "seed": args.seed, "data": {"n_cells": int(adata.n_obs), "n_peaks": int(adata.n_vars)},
              "machine": _machine(args.threads), "lsi": embedding_metrics(adata.obsm["X_lsi"], labels, batch),
              "records": [], "complete": False}
    ScBasset.setup_anndata(adata)
    model = ScBasset(adata, sim.genome, random_state=args.seed)
    checkpoint = Path(args.checkpoint_dir or RESULTS.parent / ".checkpoints") / f"convergence_{args.preset}_seed{args.seed}"
    name = f"scbasset_convergence_{args.preset}.json"
    earlier = {}  # records of a previous run of the same checkpoint, kept when it is continued to more epochs
    if (RESULTS / name).is_file():
        previous = json.loads((RESULTS / name).read_text())
        if (previous["preset"], previous["seed"]) == (args.preset, args.seed):
            earlier = {record["epoch"]: record for record in previous["records"]}
    for epochs in range(args.every, args.epochs + 1, args.every):
        model.fit(max_epochs=epochs, precision=args.precision, n_threads=args.threads, checkpoint_dir=checkpoint,
                  resume=True, restore_best=False)
        if len(model.history) > epochs:  # the checkpoint is already past this chunk
            if epochs in earlier:
                result["records"].append(earlier[epochs])
            continue
        last = model.history.iloc[-1]
        record = {"epoch": int(len(model.history)), "train_auroc": float(last["train_auroc"]),
                  "val_auroc": float(last["val_auroc"]), "s_per_epoch": float(np.median(model.history["seconds"])),
                  **embedding_metrics(model.get_latent_representation(), labels, batch)}
        result["records"].append(record)
        print(json.dumps(record), flush=True)
        write_result(name, result)
    result["complete"] = True
    write_result(name, result)
    _convergence_plot(result, RESULTS / name.replace(".json", ".png"))


def _convergence_plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in result["records"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(epochs, [r["label_score_k50"] for r in result["records"]], marker="o", label="scBasset")
    ax.axhline(result["lsi"]["label_score_k50"], color="grey", ls="--", label="LSI")
    ax.set_xlabel("epoch")
    ax.set_ylabel("label score (k = 50)")
    ax.set_title(f"scBasset cell embedding vs epochs (simulator '{result['preset']}')", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


# ------------------------------------------------------------------------------------------- time to quality


def time_to_quality(args) -> None:
    """Wall time and epochs until the cell embedding's label score (k = 50) reaches LSI's, per recipe (issue 18).

    Each recipe trains from the same seed under the same wall-time budget (``--minutes`` of training, the
    label-score evaluations not counted), one epoch per ``fit`` call resumed from a checkpoint, so every
    epoch is scored. Epoch 0 is the model before training (the fast recipe's LSI start is set in ``fit``, so
    its epoch-0 score is computed with the same initialiser, outside the timed training). At the end:
    held-out (test) per-cell / per-peak auROC with :meth:`ScBasset.evaluate`. Every record carries the
    1-minute load average: the machine was shared, so times are upper bounds.
    """
    from cellspace import embedding_metrics
    from seqatac.baselines import lsi
    from seqatac.metrics import label_score
    from seqatac.models import ScBasset
    from seqatac.models.scbasset import CPU_ARCHITECTURE
    from seqatac.models.scbasset._recipes import initialise_cell_head
    from seqatac.simulate import simulate_atac

    torch.set_num_threads(args.threads)
    sim = simulate_atac(args.preset, random_state=args.seed, rna=False)
    adata = sim.atac
    labels = adata.obs["cell_type"].astype(str).to_numpy()
    batch = adata.obs["batch"].astype(str).to_numpy()
    lsi(adata, random_state=0)
    lsi_score = float(label_score(adata.obsm["X_lsi"], labels, k=50))
    architecture = json.loads(args.architecture) if args.architecture else {}
    if args.bc_lambda is not None:  # scBasset-BC: the batch path, L2 on the cell embedding
        architecture = {**architecture, "l2_cell": args.bc_lambda}
    name = f"scbasset_time_to_quality_{args.preset}{args.suffix}.json"
    result = {"command": " ".join(["python benchmarks/scbasset.py", *sys.argv[1:]]), "preset": args.preset,
              "seed": args.seed, "data": {"n_cells": int(adata.n_obs), "n_peaks": int(adata.n_vars)},
              "machine": _machine(args.threads), "uptime_before": _uptime(), "minutes_budget": args.minutes,
              "architecture": architecture, "batch_key": "batch" if args.bc_lambda is not None else None,
              "lsi_label_score_k50": lsi_score, "recipes": {}, "complete": False}
    ScBasset.setup_anndata(adata, batch_key=result["batch_key"])
    root = Path(args.checkpoint_dir or RESULTS.parent / ".checkpoints")
    for recipe in args.recipes:
        recipe_architecture = dict(architecture)
        if recipe == "fast" and args.fast_architecture:  # e.g. "cpu": seqatac's CPU preset for this recipe only
            recipe_architecture.update(CPU_ARCHITECTURE if args.fast_architecture == "cpu"
                                       else json.loads(args.fast_architecture))
        model = ScBasset(adata, sim.genome, random_state=args.seed, **recipe_architecture)
        checkpoint = root / f"ttq_{args.preset}{args.suffix}_seed{args.seed}_{recipe}"
        if checkpoint.exists():
            import shutil
            shutil.rmtree(checkpoint)
        if recipe == "fast":  # epoch 0 of the fast recipe: what fit(recipe="fast") starts from
            probe = ScBasset(adata, sim.genome, random_state=args.seed, **recipe_architecture)
            initialise_cell_head(probe.module, probe._targets, probe.splits["train"], seed=probe._train_seed)
            start_embedding = probe.get_latent_representation()
        else:
            start_embedding = model.get_latent_representation()
        records = [{"epoch": 0, "train_seconds": 0.0, "label_score_k50": float(label_score(start_embedding, labels, k=50)),
                    "load_1min": load_average()}]
        entry = {"parameters": int(model.module.n_parameters), "architecture": recipe_architecture,
                 "records": records}
        result["recipes"][recipe] = entry
        print(f"== {recipe}: {model}; epoch 0 label score {records[0]['label_score_k50']:.4f} (LSI {lsi_score:.4f})",
              flush=True)
        train_seconds, epoch = 0.0, 0
        while train_seconds < args.minutes * 60 and epoch < args.max_epochs:
            epoch += 1
            started = time.perf_counter()
            model.fit(max_epochs=epoch, recipe=recipe, precision=args.precision, n_threads=args.threads,
                      checkpoint_dir=checkpoint, resume=True, restore_best=False, early_stopping=False,
                      verbose=False)
            train_seconds += time.perf_counter() - started
            last = model.history.iloc[-1]
            record = {"epoch": epoch, "train_seconds": train_seconds,
                      "label_score_k50": float(label_score(model.get_latent_representation(), labels, k=50)),
                      "train_auroc": float(last["train_auroc"]), "val_auroc": float(last["val_auroc"]),
                      "load_1min": load_average()}
            records.append(record)
            print(json.dumps(record), flush=True)
            write_result(name, result)
        reached = [r for r in records if r["label_score_k50"] >= lsi_score]
        entry["reached_lsi"] = ({"epoch": reached[0]["epoch"], "train_seconds": reached[0]["train_seconds"]}
                                if reached else None)
        near = [r for r in records if r["label_score_k50"] >= 0.98 * lsi_score]
        entry["reached_98pct_lsi"] = ({"epoch": near[0]["epoch"], "train_seconds": near[0]["train_seconds"]}
                                      if near else None)
        entry["best_label_score_k50"] = max(r["label_score_k50"] for r in records)
        entry["final"] = {"epochs": epoch, "train_seconds": train_seconds,
                          "test": model.evaluate("test")["summary"], "uptime": _uptime(),
                          "embedding": embedding_metrics(model.get_latent_representation(), labels, batch)}
        print(json.dumps({recipe: {k: v for k, v in entry.items() if k != "records"}}), flush=True)
        write_result(name, result)
    result["uptime_after"] = _uptime()
    result["complete"] = True
    write_result(name, result)
    _time_to_quality_plot(result, RESULTS / name.replace(".json", ".png"))


def ttq_analyses(args) -> None:
    """Issue 18 point 3 on the model ``time_to_quality`` trained: TF driver recovery, ISM, denoised vs true p.

    The model is rebuilt from the run's checkpoint (``fit(resume=True)`` to the epochs it reached: no
    training). Writes ``scbasset_time_to_quality_<preset><suffix>_analyses.json``.
    """
    from seqatac.data import jaspar
    from seqatac.models import ScBasset
    from seqatac.simulate import simulate_atac

    torch.set_num_threads(args.threads)
    run = json.loads((RESULTS / f"scbasset_time_to_quality_{args.preset}{args.suffix}.json").read_text())
    entry = run["recipes"][args.recipe]
    sim = simulate_atac(args.preset, random_state=args.seed, rna=False)
    adata, truth = sim.atac, sim.truth
    labels = adata.obs["cell_type"].astype(str).to_numpy()
    ScBasset.setup_anndata(adata, batch_key=run.get("batch_key"))
    model = ScBasset(adata, sim.genome, random_state=args.seed, **entry.get("architecture", run.get("architecture", {})))
    checkpoint = Path(args.checkpoint_dir or RESULTS.parent / ".checkpoints") / \
        f"ttq_{args.preset}{args.suffix}_seed{args.seed}_{args.recipe}"
    model.fit(max_epochs=entry["final"]["epochs"], recipe=args.recipe, checkpoint_dir=checkpoint, resume=True,
              restore_best=False, early_stopping=False, verbose=False)
    result = {"command": " ".join(["python benchmarks/scbasset.py", *sys.argv[1:]]), "recipe": args.recipe,
              "epochs": int(len(model.history)), "uptime_before": _uptime()}
    out_name = f"scbasset_time_to_quality_{args.preset}{args.suffix}_analyses.json"
    if args.bc_suffix is not None:  # scBasset-BC (a time_to_quality run with --bc-lambda) against this model
        bc_run = json.loads((RESULTS / f"scbasset_time_to_quality_{args.preset}{args.bc_suffix}.json").read_text())
        plain, bc = entry["final"]["embedding"], bc_run["recipes"][args.recipe]["final"]["embedding"]
        result["bc"] = {"l2_cell": bc_run["architecture"].get("l2_cell"), "plain": plain, "bc": bc,
                        "epochs": {"plain": entry["final"]["epochs"],
                                   "bc": bc_run["recipes"][args.recipe]["final"]["epochs"]},
                        "ilisi_gain": bc["ilisi_batch"] - plain["ilisi_batch"],
                        "label_score_loss": plain["label_score_k50"] - bc["label_score_k50"]}
        result["bc"]["accepted"] = bool(result["bc"]["ilisi_gain"] > 0 and result["bc"]["label_score_loss"] <= 0.05)
        print(json.dumps({k: v for k, v in result["bc"].items() if k not in ("plain", "bc")}), flush=True)
    # denoised accessibility vs the simulator's true p(cell, peak), on the sampled pairs of test peaks. The
    # denoised value has no intercept (depth-normalised, the authors' definition) and the true p includes the
    # cell's depth, so the comparison that matches it is within each cell, across peaks (depth is constant there)
    sample = truth["p_sample"]
    cell_index, peak_index = np.asarray(sample["cell_index"]), np.asarray(sample["peak_index"])
    test = np.isin(peak_index, model.splits["test"])  # the sample is a grid: cells × peaks
    if test.any():
        from scipy.stats import pearsonr, spearmanr

        p_true = np.asarray(sample["p"])[:, test]
        denoised = model.get_denoised_accessibility(peak_index[test])[cell_index]
        block = adata.X[cell_index][:, peak_index[test]]
        raw = (np.asarray(block.todense() if hasattr(block, "todense") else block) > 0).astype(float)

        def per_cell(pred, corr) -> float:  # mean over cells of the correlation across peaks
            values = [corr(pred[i], p_true[i])[0] for i in range(len(p_true)) if np.ptp(pred[i]) > 0]
            return float(np.mean(values)) if values else float("nan")

        result["denoised_vs_true_p"] = {
            "n_pairs": int(p_true.size), "n_cells": int(p_true.shape[0]), "n_peaks": int(p_true.shape[1]),
            "split": "test",
            "pearson_denoised": float(pearsonr(denoised.ravel(), p_true.ravel())[0]),
            "pearson_raw": float(pearsonr(raw.ravel(), p_true.ravel())[0]),
            "spearman_denoised": float(spearmanr(denoised.ravel(), p_true.ravel())[0]),
            "spearman_raw": float(spearmanr(raw.ravel(), p_true.ravel())[0]),
            "per_cell_pearson_denoised": per_cell(denoised, pearsonr), "per_cell_pearson_raw": per_cell(raw, pearsonr),
            "per_cell_spearman_denoised": per_cell(denoised, spearmanr),
            "per_cell_spearman_raw": per_cell(raw, spearmanr),
            "note": "per_cell_*: mean over cells of the correlation across the test peaks (cells whose raw "
                    "row is constant are left out of that mean)"}
        print(json.dumps(result["denoised_vs_true_p"]), flush=True)
        write_result(out_name, result)
    panel = jaspar(ids=list(truth["tfs"]["motif_id"]))
    started = time.perf_counter()
    activity = model.get_tf_activity(panel, n_backgrounds=args.backgrounds, random_state=0, verbose=False)
    result["tf_activity"] = {"n_backgrounds": args.backgrounds, "n_motifs": len(panel),
                             "seconds": time.perf_counter() - started,
                             **_medium_tf_scores(activity, adata, truth, labels)}
    print(json.dumps(result["tf_activity"]["driver_tf"], default=str), flush=True)
    write_result(out_name, result)
    if args.ism_peaks:
        result["ism"] = _medium_ism(model, adata, truth, labels, args.ism_peaks, args.seed)
        print(json.dumps({k: v for k, v in result["ism"].items() if k != "per_peak"}), flush=True)
    result["uptime_after"] = _uptime()
    write_result(out_name, result)


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _time_to_quality_plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for recipe, entry in result["recipes"].items():
        records = entry["records"]
        ax.plot([r["train_seconds"] / 60 for r in records], [r["label_score_k50"] for r in records], marker="o",
                ms=3, label=f"{recipe} recipe")
    ax.axhline(result["lsi_label_score_k50"], color="grey", ls="--", label="LSI")
    ax.set_xlabel("training wall time (min, shared 2-core CPU)")
    ax.set_ylabel("label score (k = 50)")
    ax.set_title(f"scBasset time to quality (simulator '{result['preset']}')", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parts = parser.add_subparsers(dest="part", required=True)
    p = parts.add_parser("speed")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=speed)
    p = parts.add_parser("quality")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=quality)
    p = parts.add_parser("planted")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--epochs", type=int, default=40)
    p.set_defaults(func=planted)
    p = parts.add_parser("memory")
    p.add_argument("--cells", type=int, default=100_000)
    p.add_argument("--peaks", type=int, default=50_000)
    p.add_argument("--density", type=float, default=0.03)
    p.add_argument("--seconds", type=float, default=240)
    p.set_defaults(func=memory)
    p = parts.add_parser("medium", help="issue 3's quality benchmark on a simulator preset")
    p.add_argument("--preset", default="medium", help="simulator preset (tests and smoke runs: tiny)")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulation and of every model")
    p.add_argument("--epochs", type=int, default=20, help="epochs of every scBasset run (plain and BC)")
    p.add_argument("--bc-lambda", type=float, nargs="+", default=[1e-6],
                   help="scBasset-BC L2 on the cell embedding, one run each (paper: 1e-6 PBMC, 1e-8 Buenrostro)")
    p.add_argument("--backgrounds", type=int, default=1000, help="TF activity backgrounds (library default)")
    p.add_argument("--ism-peaks", type=int, default=64, help="held-out peaks with planted motifs for ISM")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", help="training precision: auto, fp32 or bf16")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--checkpoint-dir", default=None, help="checkpoint each run under DIR/<run name> and resume")
    p.set_defaults(func=medium)
    p = parts.add_parser("convergence", help="label score of the cell embedding vs epochs")
    p.add_argument("--preset", default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--every", type=int, default=5, help="epochs between evaluations")
    p.add_argument("--precision", default="auto")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--checkpoint-dir", default=None, help="checkpoints (default benchmarks/.checkpoints, git-ignored)")
    p.set_defaults(func=convergence)
    p = parts.add_parser("time_to_quality", help="wall time until the label score reaches LSI's, per recipe")
    p.add_argument("--preset", default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recipes", nargs="+", default=["fast", "authors"])
    p.add_argument("--minutes", type=float, default=12.0, help="training wall-time budget of each recipe")
    p.add_argument("--max-epochs", type=int, default=1000)
    p.add_argument("--architecture", default=None, help="JSON of ScBasset architecture options (default: authors')")
    p.add_argument("--fast-architecture", default=None,
                   help="architecture of the fast recipe only, over --architecture: 'cpu' (CPU_ARCHITECTURE) or JSON")
    p.add_argument("--suffix", default="", help="appended to the result file name")
    p.add_argument("--bc-lambda", type=float, default=None,
                   help="train scBasset-BC (batch path on obs['batch']) with this L2 on the cell embedding")
    p.add_argument("--precision", default="auto")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--checkpoint-dir", default=None, help="checkpoints (default benchmarks/.checkpoints, git-ignored)")
    p.set_defaults(func=time_to_quality)
    p = parts.add_parser("ttq_analyses", help="TF drivers, ISM, denoised vs true p on the time_to_quality model")
    p.add_argument("--preset", default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recipe", default="fast")
    p.add_argument("--suffix", default="")
    p.add_argument("--backgrounds", type=int, default=300)
    p.add_argument("--ism-peaks", type=int, default=16)
    p.add_argument("--bc-suffix", default=None,
                   help="suffix of a time_to_quality --bc-lambda run to compare with (iLISI gain, label-score loss)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--checkpoint-dir", default=None)
    p.set_defaults(func=ttq_analyses)
    args = parser.parse_args()
    global STEP_GFLOP
    STEP_GFLOP = _step_gflop()
    args.func(args)


if __name__ == "__main__":
    main()
