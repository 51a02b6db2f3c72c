"""Make seqATAC's example data set, inst/extdata/tiny_{atac,rna}.h5ad and tiny_genome.fa.

Run from the repository root with the engine installed (`make install`):

    .venv/bin/python inst/scripts/make-extdata.py

Step 1 simulates with the engine's command line: the `tiny` preset made smaller (150 cells, 250 peaks of
250 bp close together on a two-chromosome genome, deeper sequencing so that every cell has open peaks,
50 genes + the TF genes of paired RNA), seed 1:

    seqatac simulate --preset tiny --seed 1 --rna --set n_cells=150 --set n_peaks=250 --set peak_width=250
        --set motif_window=150 --set mean_gap=150 --set min_gap=30 --set edge_flank=300 --set n_genes=50
        --set n_truth_cells=20 --set n_truth_peaks=50 --set depth_mean=-4.0 --threads 1 --out <tmp>

Step 2 keeps what the examples, tests and vignette use, so that the three files stay under 300 KB (written
without compression: HDF5's per-dataset overhead outweighs what gzip saves on data this small): the
counts, obs `cell_type`, `batch`, `total_counts`, var `chrom`/`start`/`end` (0-based, half-open),
`peak_class`, `gc`, and obsm `true_tf_activity` (the simulated TF activities); for RNA the counts and the
genes' coordinates. The full simulation (truth.json, motif instances, ...) is what step 1 writes.
The output is the same on every run (the simulator is deterministic for a seed).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import anndata as ad

SETTINGS = {
    "n_cells": 150, "n_peaks": 250, "peak_width": 250, "motif_window": 150, "mean_gap": 150, "min_gap": 30,
    "edge_flank": 300, "n_genes": 50, "n_truth_cells": 20, "n_truth_peaks": 50, "depth_mean": -4.0,
}
OUT = Path(__file__).resolve().parents[1] / "extdata"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "seqatac.cli", "simulate", "--preset", "tiny", "--seed", "1", "--rna",
                   "--threads", "1", "--out", tmp]
        for key, value in SETTINGS.items():
            command += ["--set", f"{key}={value}"]
        subprocess.run(command, check=True)
        atac = ad.read_h5ad(Path(tmp) / "atac.h5ad")
        rna = ad.read_h5ad(Path(tmp) / "rna.h5ad")
        OUT.mkdir(parents=True, exist_ok=True)
        slim_atac = ad.AnnData(
            X=atac.X, obs=atac.obs[["cell_type", "batch", "total_counts"]].copy(),
            var=atac.var[["chrom", "start", "end", "peak_class", "gc"]].copy(),
            obsm={"true_tf_activity": atac.obsm["true_tf_activity"]},
        )
        slim_rna = ad.AnnData(X=rna.X, obs=rna.obs[[]].copy(), var=rna.var[["chrom", "start", "end"]].copy())
        slim_atac.write_h5ad(OUT / "tiny_atac.h5ad")
        slim_rna.write_h5ad(OUT / "tiny_rna.h5ad", compression="gzip")  # dense enough for gzip to pay
        shutil.copyfile(Path(tmp) / "genome.fa", OUT / "tiny_genome.fa")
    for path in sorted(OUT.iterdir()):
        print(f"{path.name}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
