"""Time and memory of the simulator for one preset (default ``large``).

Records wall time, peak resident memory (``resource.getrusage``, the whole process), the matrix size,
non-zeros and density, and the simulator's own summary to ``benchmarks/results/simulate_<preset>.json``.
With ``--write DIR`` it also times :func:`seqatac.simulate.write_simulation`.

Usage: ``python benchmarks/simulate.py [--preset large] [--seed 0] [--write DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

from seqatac.simulate import simulate_atac, write_simulation


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="large")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", default=None, help="also write the simulation to this directory and time it")
    parser.add_argument("--out", default=None, help="result JSON (default benchmarks/results/simulate_<preset>.json)")
    args = parser.parse_args()

    rss_before = peak_rss_mb()
    start = time.perf_counter()
    sim = simulate_atac(args.preset, random_state=args.seed)
    seconds = time.perf_counter() - start
    matrix = sim.atac.X
    result = {
        "preset": args.preset,
        "seed": args.seed,
        "script": "benchmarks/simulate.py",
        "simulate_seconds": round(seconds, 2),
        "peak_rss_mb_before": round(rss_before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "n_cells": matrix.shape[0],
        "n_peaks": matrix.shape[1],
        "nnz": int(matrix.nnz),
        "density": matrix.nnz / (matrix.shape[0] * matrix.shape[1]),
        "matrix_mb": round((matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes) / 2**20, 1),
        "genome_bp": sum(sim.genome.chrom_sizes.values()),
        "rna_genes": 0 if sim.rna is None else sim.rna.n_vars,
        "summary": sim.truth["summary"],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    if args.write:
        start = time.perf_counter()
        paths = write_simulation(sim, args.write)
        result["write_seconds"] = round(time.perf_counter() - start, 2)
        result["file_mb"] = {name: round(path.stat().st_size / 2**20, 1) for name, path in paths.items()}
        result["peak_rss_mb_after_write"] = round(peak_rss_mb(), 1)
    out = Path(args.out or Path(__file__).parent / "results" / f"simulate_{args.preset}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
