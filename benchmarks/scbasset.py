"""scBasset benchmarks: CPU training-step speed, bf16-vs-fp32 quality, and training memory at scale.

Usage (from the repository root)::

    python benchmarks/scbasset.py speed   [--steps 5] [--threads 2]
    python benchmarks/scbasset.py quality [--epochs 8]
    python benchmarks/scbasset.py planted [--seeds 10] [--epochs 40]
    python benchmarks/scbasset.py memory  [--cells 100000] [--peaks 50000] [--seconds 240]

Each part writes ``benchmarks/results/scbasset_<part>.json``. Speed: one training step (forward, BCE,
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
from _common import load_average, machine, memory_gb, write_result

STEP_GFLOP = None  # set in main() (needs seqatac importable)


def _write(name: str, payload: dict) -> None:
    write_result(f"scbasset_{name}.json", payload)
    print(json.dumps(payload, indent=2))


def _machine(threads: int) -> dict:
    from seqatac.models._training import cpu_supports_bf16

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
    from seqatac.models.scbasset import ScBassetConfig, ScBassetModule
    from seqatac.models._training import autocast
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


def speed(args) -> None:
    """Step time per variant; with one thread the process CPU time is a contention-robust measure."""
    torch.set_num_threads(args.threads)
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
        "gflop_per_step": STEP_GFLOP,
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
    from test_scbasset import SMALL, planted_data

    from seqatac.models import ScBasset

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
    args = parser.parse_args()
    global STEP_GFLOP
    STEP_GFLOP = _step_gflop()
    args.func(args)


if __name__ == "__main__":
    main()
