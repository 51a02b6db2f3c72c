"""Saving and loading scBasset models: a directory of ``config.json``, ``model.pt``, ``cells.csv`` and
``peaks.csv`` (and optionally ``adata.h5ad``)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from ... import _keys
from ..._errors import SeqatacInputError
from ..._utils import jsonable
from ...data import Genome
from .._persistence import (
    build_config,
    check_size,
    load_module_state,
    model_directory,
    read_config,
    read_table,
    read_weights,
)
from ._data import PeakTargets
from ._module import ScBassetConfig, ScBassetModule

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_CONFIG, _WEIGHTS, _CELLS, _PEAKS = "config.json", "model.pt", "cells.csv", "peaks.csv"
_SPLITS = ("train", "val", "test")


def save_model(model, dir_path: str | os.PathLike, *, overwrite: bool, save_anndata: bool) -> None:
    """:meth:`ScBasset.save` (documented there)."""
    path = Path(dir_path)
    split = np.full(len(model.regions), "excluded", dtype=object)
    for name in _SPLITS:
        split[model.splits[name]] = name
    peaks = model.regions.assign(split=split)
    peaks.index.name = "peak"
    cells = pd.DataFrame(index=pd.Index(model.cell_names, name="cell"))
    config = {
        "format_version": FORMAT_VERSION,
        "model": "scbasset",
        "architecture": model.config.to_dict(),
        "params": jsonable(model.params),
        "setup": model.setup,
        "batches": model.batch_names,
        "train_seed": model._train_seed,
        "n_peaks": len(peaks),
        "genome_fasta": str(model.genome.path.resolve()) if getattr(model.genome, "path", None) else None,
        "history": jsonable(model.history.to_dict(orient="records")),
    }
    with model_directory(path, overwrite=overwrite) as tmp:
        torch.save({key: value.detach().cpu().contiguous() for key, value in model.module.state_dict().items()},
                   tmp / _WEIGHTS)
        cells.to_csv(tmp / _CELLS)
        peaks.to_csv(tmp / _PEAKS)
        if save_anndata and model._adata is not None:
            model._adata.write_h5ad(tmp / "adata.h5ad")
        (tmp / _CONFIG).write_text(json.dumps(config, indent=1))
    model.model_dir = path
    logger.info("saved scBasset model to %s", path)


def load_model(cls, dir_path: str | os.PathLike, *, adata: AnnData | None,
               genome: Genome | str | os.PathLike | None):
    """:meth:`ScBasset.load` (documented there)."""
    path = Path(dir_path)
    config = read_config(path, model="scbasset", title="scBasset", format_version=FORMAT_VERSION,
                         required=("architecture", "params", "setup", "batches", "train_seed"))
    architecture = build_config(ScBassetConfig, config["architecture"], path)
    state = read_weights(path / _WEIGHTS)
    cells = read_table(path, _CELLS, index_col=0, dtype=str, keep_default_na=False, unique="index").index
    peaks = read_table(path, _PEAKS, columns=(_keys.CHROM, _keys.START, _keys.END, "split"), index_col=0,
                       dtype={_keys.CHROM: str}, keep_default_na=False, unique="index")
    peaks.index = peaks.index.astype(str)
    check_size(len(cells), architecture.n_cells, path / _CELLS, "cells")
    if "n_peaks" in config:  # models saved before it was recorded have only the table
        check_size(len(peaks), config["n_peaks"], path / _PEAKS, "peaks")
    module = ScBassetModule(architecture, batch_onehot=state.get("batch_onehot"))
    load_module_state(module, state, path)
    module.eval()
    splits = {name: np.flatnonzero(peaks["split"].to_numpy() == name) for name in _SPLITS}
    regions = peaks[[_keys.CHROM, _keys.START, _keys.END]].astype({_keys.START: np.int64, _keys.END: np.int64})
    if adata is None and (path / "adata.h5ad").is_file():
        import anndata

        adata = anndata.read_h5ad(path / "adata.h5ad")
    targets = None
    if adata is not None:
        if not adata.obs_names.equals(cells) or not adata.var_names.astype(str).equals(regions.index):
            raise SeqatacInputError(
                f"adata ({adata.n_obs} cells × {adata.n_vars} peaks) does not have the saved model's "
                f"{len(cells)} cells and {len(regions)} peaks in the same order; pass the training AnnData."
            )
        layer = config["setup"].get("layer")
        targets = PeakTargets.from_matrix(adata.layers[layer] if layer else adata.X)
    if genome is None and config.get("genome_fasta") and Path(config["genome_fasta"]).is_file():
        genome = config["genome_fasta"]
    model = cls.__new__(cls)
    model._init(module=module, cell_names=cells, regions=regions, splits=splits, genome=genome,
                setup=config["setup"], params=config["params"], batch_names=config["batches"], adata=adata,
                targets=targets, sequence_cache=None, history=config.get("history"))
    model._train_seed = int(config["train_seed"])
    model.model_dir = path
    return model
