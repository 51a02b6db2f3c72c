"""Writing a simulation to disk (:func:`write_simulation`) and the plain-JSON form of its truth."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import atomic_path, write_h5ad
from ..data import write_fasta
from ._simulate import Simulation


def write_simulation(sim: Simulation, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write a simulation to ``out_dir``, every file atomically; the same simulation gives identical bytes.

    Returns
    -------
    ``{"atac": atac.h5ad, "rna": rna.h5ad (if paired RNA), "genome": genome.fa, "genome_index": genome.fa.fai,
    "truth": truth.json}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"atac": out_dir / "atac.h5ad"}
    write_h5ad(sim.atac, paths["atac"])
    if sim.rna is not None:
        paths["rna"] = out_dir / "rna.h5ad"
        write_h5ad(sim.rna, paths["rna"])
    else:  # never leave another simulation's RNA beside this one's ATAC
        (out_dir / "rna.h5ad").unlink(missing_ok=True)
    paths["genome"] = write_fasta(sim.genome, out_dir / "genome.fa")
    paths["genome_index"] = out_dir / "genome.fa.fai"
    paths["truth"] = out_dir / "truth.json"
    with atomic_path(paths["truth"]) as tmp:
        tmp.write_text(json.dumps(_jsonable(sim.truth), indent=1, allow_nan=False) + "\n")
    return paths


def _jsonable(value):
    """Plain-JSON form of the truth: arrays -> lists (NaN -> null), DataFrames -> {column: list}."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        columns = {str(c): _jsonable(value[c].to_numpy()) for c in value}
        return {"index": _jsonable(value.index.to_numpy()), "columns": columns}
    if isinstance(value, (np.ndarray, list, tuple)):
        array = np.asarray(value)
        if array.ndim > 1 or array.dtype.kind == "O":
            return [_jsonable(v) for v in array]
        if array.dtype.kind == "f":
            return [None if v != v else v for v in array.tolist()]  # NaN -> null
        return array.tolist()
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
