"""The ground-truth dictionary saved with a simulation (``atac.uns["simulation"]``, ``truth.json``)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd

from .. import _keys
from ._cells import _probabilities
from ._config import FORMAT_VERSION
from ._genome import _composition


def _truth(
    config, preset, seed, atac, motifs, programs, drivers, repressor_of_type, instances, batch_effect, design,
    weights, links, genome_codes, rna, rng,
) -> dict:  # fmt: skip
    obs, tf_names = atac.obs, list(motifs)
    cell_index = np.sort(rng.choice(config.n_cells, size=min(config.n_truth_cells, config.n_cells), replace=False))
    peak_index = np.sort(rng.choice(config.n_peaks, size=min(config.n_truth_peaks, config.n_peaks), replace=False))
    p_sample = _probabilities(design[cell_index], weights[:, peak_index], config.p_max)
    genome_gc, genome_cpg_oe = _composition(genome_codes)
    open_peaks = obs["n_open_peaks"].to_numpy()
    trajectories = obs.loc[obs["pseudotime"].notna(), "trajectory"].astype(str).value_counts().sort_index()
    used = (programs != 0).any(axis=0)
    truth = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "preset": preset,
        "config": json.dumps(dataclasses.asdict(config)),
        "cell_types": np.array(obs[_keys.CELL_TYPE].cat.categories, dtype=object),
        "batches": np.array(obs[_keys.BATCH].cat.categories, dtype=object),
        "cell_type": obs[_keys.CELL_TYPE].astype(str).to_numpy(dtype=object),
        "batch": obs[_keys.BATCH].astype(str).to_numpy(dtype=object),
        "pseudotime": obs["pseudotime"].to_numpy(),
        "tfs": pd.DataFrame(
            {
                "tf": tf_names,
                "motif_id": [motifs[t].id for t in tf_names],
                "motif_name": [motifs[t].name for t in tf_names],
                "role": [
                    "activator" if t in config.activators else "repressor" if t in config.repressors else "constitutive"
                    for t in tf_names
                ],
                "used": used,
            },
            index=pd.Index(tf_names),
        ),
        "activators": np.array(config.activators, dtype=object),
        "repressors": np.array(config.repressors, dtype=object),
        "drivers": {t: np.array(v, dtype=object) for t, v in drivers.items()},
        "repressor_of_type": repressor_of_type,
        "programs": pd.DataFrame(programs, index=pd.Index(list(drivers)), columns=tf_names),
        "tf_names": np.array(tf_names, dtype=object),
        "tf_activity": atac.obsm[_keys.TRUE_TF_ACTIVITY_OBSM].to_numpy(dtype=np.float32),
        "motif_instances": instances,
        "trajectories": pd.DataFrame(
            {
                "name": trajectories.index.to_numpy(dtype=object),
                "from": [n.split("->")[0] for n in trajectories.index],
                "to": [n.split("->")[1] for n in trajectories.index],
                "n_cells": trajectories.to_numpy(),
            },
            index=pd.Index([str(i) for i in range(len(trajectories))]),
        ),
        "batch_effect": batch_effect,
        "p_sample": {"cell_index": cell_index, "peak_index": peak_index, "p": p_sample},
        "summary": {
            "n_cells": config.n_cells,
            "n_peaks": config.n_peaks,
            "n_nonzero": int(atac.X.nnz),
            "density": float(atac.X.nnz / (config.n_cells * config.n_peaks)),
            "median_open_peaks": float(np.median(open_peaks)),
            "open_peaks_p5": float(np.percentile(open_peaks, 5)),
            "open_peaks_p95": float(np.percentile(open_peaks, 95)),
            "mean_count_nonzero": float(atac.X.data.mean()) if atac.X.nnz else 0.0,
            "genome_gc": genome_gc,
            "genome_cpg_oe": genome_cpg_oe,
            "n_genes": 0 if rna is None else rna.n_vars,
        },
    }
    if links is not None:
        truth["gene_peak_links"] = links
    return truth
