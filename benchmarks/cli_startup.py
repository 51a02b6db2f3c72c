"""How responsive the command line is: ``seqatac --help``, ``seqatac fit cellspace --help``, and the fixed
start-up of a ``fit`` (imports, model construction and training-data preparation before the first epoch,
excluding reading the data), for this checkout and an earlier revision side by side in the same run.

Usage: ``python benchmarks/cli_startup.py [--before REV] [--repeats N]``; writes
``benchmarks/results/cli_startup.json``. The earlier revision is checked out into a temporary git worktree
and run with the same interpreter (``PYTHONPATH`` pointing at its ``python/``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import RESULTS, load_average, machine

ROOT = Path(__file__).resolve().parents[1]

# Phases of a CellSpace fit on the tiny simulation, timed inside one fresh process.
FIT_STARTUP = r"""
import json, sys, time
started = time.perf_counter()
from seqatac.data import Genome, read_atac
from seqatac.models.cellspace import CellSpace
imported = time.perf_counter()
adata, genome = read_atac(sys.argv[1]), Genome(sys.argv[2])
read = time.perf_counter()
model = CellSpace(adata, genome, random_state=0)
model.fit(1, random_state=0, n_threads=1, verbose=False)
done = time.perf_counter()
epoch = model.history["seconds"][-1]
print(json.dumps({"import_s": imported - started, "read_s": read - imported,
                  "startup_s": (imported - started) + (done - read - epoch), "first_epoch_s": epoch}))
"""


def _timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(python_dir: Path, data: Path, repeats: int) -> dict:
    """Median wall times of the help commands and the fit start-up phases for one source tree."""
    env = {**os.environ, "PYTHONPATH": str(python_dir), "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "seqatac.cli"]
    result = {
        "help_s": statistics.median(_timed([*cli, "--help"], env) for _ in range(repeats)),
        "fit_cellspace_help_s": statistics.median(_timed([*cli, "fit", "cellspace", "--help"], env)
                                                  for _ in range(repeats)),
    }
    runs = []
    for _ in range(repeats):
        output = subprocess.run([sys.executable, "-c", FIT_STARTUP, str(data / "atac.h5ad"), str(data / "genome.fa")],
                                env=env, check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(output.strip().splitlines()[-1]))
    for key in runs[0]:
        result[f"fit_{key}"] = statistics.median(run[key] for run in runs)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="e207ce3", help="earlier revision to compare with")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        subprocess.run([sys.executable, "-m", "seqatac.cli", "-q", "simulate", "--preset", "tiny", "--no-rna",
                        "--out", str(scratch / "data")], check=True, env={**os.environ,
                                                                          "PYTHONPATH": str(ROOT / "python")})
        before_tree = scratch / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before_tree), args.before],
                       check=True, capture_output=True)
        try:
            load = load_average()
            before = measure(before_tree / "python", scratch / "data", args.repeats)
            after = measure(ROOT / "python", scratch / "data", args.repeats)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before_tree)], check=True)
    summary = {"machine": machine(load_average_1min=load), "before_revision": args.before,
               "repeats": args.repeats, "before": before, "after": after,
               "command": f"python benchmarks/cli_startup.py --before {args.before} --repeats {args.repeats}"}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cli_startup.json").write_text(json.dumps(summary, indent=1) + "\n")
    for key in after:
        print(f"{key:28s} before {before[key]:7.2f} s   after {after[key]:7.2f} s")


if __name__ == "__main__":
    main()
