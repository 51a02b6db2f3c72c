"""Saving and loading EpiFoundation models: a directory of ``config.json``, ``model.pt``, ``peaks.csv`` and
``genes.csv``."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch
from anndata import AnnData

from ... import _keys
from ..._utils import jsonable
from ...data import check_paired_rna
from .. import _training as T
from .._persistence import (
    build_config,
    check_size,
    load_module_state,
    model_directory,
    read_config,
    read_table,
    read_weights,
)
from ._module import EpiFoundationConfig, build_module
from ._tokenizer import GeneVocabulary, PeakVocabulary

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_CONFIG, _WEIGHTS, _PEAKS, _GENES = "config.json", "model.pt", "peaks.csv", "genes.csv"


def save_model(model, dir_path: str | os.PathLike, *, overwrite: bool) -> None:
    """:meth:`EpiFoundation.save` (documented there)."""
    path = Path(dir_path)
    config = {
        "format_version": FORMAT_VERSION, "model": "epifoundation", "architecture": model.config.to_dict(),
        "params": jsonable(model.params), "setup": model.setup, "batches": model.batch_names,
        "cell_types": model.cell_types, "trained": model.trained, "history": jsonable(model.history),
    }
    with model_directory(path, overwrite=overwrite) as tmp:
        torch.save(T.cpu_state_dict(model.module), tmp / _WEIGHTS)
        model.vocabulary.to_frame().to_csv(tmp / _PEAKS, index=False)
        if model.genes is not None:
            model.genes.to_frame().to_csv(tmp / _GENES, index=False)
        (tmp / _CONFIG).write_text(json.dumps(config, indent=1))
    model.model_dir = path
    logger.info("saved EpiFoundation model to %s", path)


def load_model(cls, dir_path: str | os.PathLike, *, adata: AnnData | None, rna: AnnData | None):
    """:meth:`EpiFoundation.load` (documented there)."""
    path = Path(dir_path)
    config = read_config(path, model="epifoundation", title="EpiFoundation", format_version=FORMAT_VERSION,
                         required=("architecture", "params", "setup", "batches", "cell_types", "history",
                                   "trained"))
    architecture = build_config(EpiFoundationConfig, config["architecture"], path)
    state = read_weights(path / _WEIGHTS)
    vocabulary = PeakVocabulary.from_frame(read_table(path, _PEAKS, columns=("name", _keys.CHROM, _keys.START,
                                                                              _keys.END), unique="name"))
    check_size(len(vocabulary), architecture.n_peaks, path / _PEAKS, "peaks")
    genes = None
    if architecture.n_genes:
        genes = GeneVocabulary.from_frame(read_table(path, _GENES, columns=("gene", _keys.CHROM),
                                                     keep_default_na=False, unique="gene"))
        check_size(len(genes), architecture.n_genes, path / _GENES, "genes")
    module = build_module(architecture, seed=0)
    load_module_state(module, state, path)
    module.eval()
    if adata is not None and rna is not None:
        check_paired_rna(adata, rna)
    model = cls.__new__(cls)
    model._init(module=module, vocabulary=vocabulary, genes=genes, batch_names=config["batches"],
                setup=config["setup"], params=config["params"], adata=adata, rna=rna,
                cell_types=config["cell_types"], history=config["history"], trained=config["trained"])
    model.model_dir = path
    return model
