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
from ..._errors import SeqatacInputError
from ..._utils import atomic_path, jsonable
from ...data import check_paired_rna
from .. import _training as T
from .._persistence import (
    build_config,
    check_size,
    load_module_state,
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
    if (path / _CONFIG).exists() and not overwrite:
        raise SeqatacInputError(f"{str(path)!r} already holds a saved model; pass overwrite=True or another path.")
    path.mkdir(parents=True, exist_ok=True)
    config = {
        "format_version": FORMAT_VERSION, "model": "epifoundation", "architecture": model.config.to_dict(),
        "params": jsonable(model.params), "setup": model.setup, "batches": model.batch_names,
        "cell_types": model.cell_types, "trained": model.trained, "history": jsonable(model.history),
    }
    with atomic_path(path / _WEIGHTS) as tmp:
        torch.save(T.cpu_state_dict(model.module), tmp)
    with atomic_path(path / _PEAKS) as tmp:
        model.vocabulary.to_frame().to_csv(tmp, index=False)
    if model.genes is not None:
        with atomic_path(path / _GENES) as tmp:
            model.genes.to_frame().to_csv(tmp, index=False)
    with atomic_path(path / _CONFIG) as tmp:
        tmp.write_text(json.dumps(config, indent=1))
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
                                                                              _keys.END)))
    check_size(len(vocabulary), architecture.n_peaks, path / _PEAKS, "peaks")
    genes = None
    if architecture.n_genes:
        genes = GeneVocabulary.from_frame(read_table(path, _GENES, columns=("gene", _keys.CHROM),
                                                     keep_default_na=False))
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
