"""SnapATAC2 spectral embedding of one h5ad, run by ``realdata.py`` inside SnapATAC2's own virtualenv.

SnapATAC2 2.9 needs numpy >= 2 and seqatac pins numpy < 2, so this file imports nothing from seqatac. It
follows SnapATAC2's tutorial: ``pp.select_features`` (most accessible features after dropping the 0.5%
least and most accessible, ``n_features=250000`` as the tutorial passes) then ``tl.spectral`` (cosine,
matrix-free, eigenvectors weighted by the square root of their eigenvalues), and writes the embedding,
the eigenvalues and the timings.

Usage: ``python _snapatac2_spectral.py IN.h5ad OUT_PREFIX [--n-comps 30] [--n-features 250000]``; writes
``OUT_PREFIX.npy`` (cells × components, float64), ``OUT_PREFIX.eigenvalues.npy`` and ``OUT_PREFIX.json``.
"""

from __future__ import annotations

import argparse
import json
import time

import anndata as ad
import numpy as np
import snapatac2 as snap


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("h5ad")
    parser.add_argument("out_prefix")
    parser.add_argument("--n-comps", type=int, default=30)
    parser.add_argument("--n-features", type=int, default=250_000)
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args()

    adata = ad.read_h5ad(args.h5ad)
    started = time.perf_counter()
    snap.pp.select_features(adata, n_features=args.n_features, verbose=False)
    selected = time.perf_counter()
    snap.tl.spectral(adata, n_comps=args.n_comps, random_state=args.random_state)
    finished = time.perf_counter()
    np.save(args.out_prefix + ".npy", np.asarray(adata.obsm["X_spectral"], dtype=np.float64))
    np.save(args.out_prefix + ".eigenvalues.npy", np.asarray(adata.uns["spectral_eigenvalue"]))
    record = {
        "snapatac2": snap.__version__,
        "numpy": np.__version__,
        "n_selected_features": int(adata.var["selected"].sum()),
        "select_features_s": selected - started,
        "spectral_s": finished - selected,
        "wall_s": finished - started,
    }
    with open(args.out_prefix + ".json", "w") as handle:
        json.dump(record, handle, indent=2)


if __name__ == "__main__":
    main()
