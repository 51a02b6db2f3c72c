"""Saving and loading CellSpace models (a directory of ``config.json``, ``model.pt``, ``cells.tsv`` and
``kmer_counts.npy``), as a mixin of :class:`CellSpace`."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from ..._errors import SeqatacInputError
from ...data import Genome
from .._persistence import (
    build_config,
    load_module_state,
    model_directory,
    read_array,
    read_config,
    read_table,
    read_weights,
)
from ._config import CellSpaceConfig
from ._module import CellSpaceModule

if TYPE_CHECKING:
    from ._model import CellSpace

FORMAT_VERSION = 1
_CONFIG_FILE, _WEIGHTS_FILE, _CELLS_FILE, _COUNTS_FILE = "config.json", "model.pt", "cells.tsv", "kmer_counts.npy"


class SavingMixin:
    """The :class:`CellSpace` methods that save and load the model."""

    def save(self, dir_path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Save to a directory: ``config.json`` (with ``format_version``), ``model.pt`` (state_dict: k-mer,
        N-gram and cell tables and AdaGrad accumulators), ``cells.tsv`` (cell names and dataset, in order) and
        ``kmer_counts.npy`` (occurrences of each canonical k-mer in the training events).

        The directory is written beside the target and renamed into place, so a failure leaves no partial
        model. Returns the directory.
        """
        target = Path(dir_path)
        meta = {
            "format_version": FORMAT_VERSION,
            "model": "CellSpace",
            "config": dataclasses.asdict(self.config),
            "random_state": self.random_state,
            "epochs_done": self.epochs_done,
            "history": self.history,
            "n_cells": len(self.cell_names),
            "training_fingerprint": getattr(self, "_training_fingerprint", None),
        }
        with model_directory(target, overwrite=overwrite) as staging:
            (staging / _CONFIG_FILE).write_text(json.dumps(meta, indent=1))
            torch.save(self.module.state_dict(), staging / _WEIGHTS_FILE)
            cells = pd.DataFrame({"cell": self.cell_names.astype(str), "dataset": self.cell_dataset})
            cells.to_csv(staging / _CELLS_FILE, sep="\t", index=False)
            if self.kmer_counts is not None:
                np.save(staging / _COUNTS_FILE, self.kmer_counts, allow_pickle=False)
        return target

    def _load_state(self, dir_path: Path, *, fingerprint: dict | None = None) -> None:
        """Load weights and history from ``dir_path``; with ``fingerprint`` (a resume), only from the same run."""
        meta = _read_meta(dir_path)
        saved = meta.get("training_fingerprint")
        if fingerprint is not None and saved is not None and saved != fingerprint:
            changed = sorted(key for key in set(saved) | set(fingerprint) if saved.get(key) != fingerprint.get(key))
            raise SeqatacInputError(
                f"the checkpoint in {str(dir_path)!r} belongs to a different run (changed: {', '.join(changed)}); it "
                "resumes only the run that wrote it. Fix: rerun with the same data, genome and seed, or use a new "
                "checkpoint_dir (or resume=False) to start afresh."
            )
        if meta["config"] != dataclasses.asdict(self.config):
            raise SeqatacInputError(
                f"the checkpoint in {str(dir_path)!r} was trained with other hyper-parameters; resume with the "
                "same configuration or use a new checkpoint_dir."
            )
        cells = _read_cells(dir_path)
        if not np.array_equal(cells["cell"].to_numpy(), self.cell_names.astype(str).to_numpy()):
            raise SeqatacInputError(f"the checkpoint in {str(dir_path)!r} holds other cells; use a new checkpoint_dir.")
        load_module_state(self.module, read_weights(dir_path / _WEIGHTS_FILE), dir_path)
        self.epochs_done = int(meta["epochs_done"])
        self.history = {key: list(values) for key, values in meta["history"].items()}

    @classmethod
    def load(
        cls, dir_path: str | os.PathLike, *, adata: AnnData | Sequence[AnnData] | None = None,
        genome: Genome | Sequence[Genome] | None = None,
    ) -> "CellSpace":
        """Load a saved model.

        Parameters
        ----------
        dir_path
            Directory written by :meth:`save`.
        adata, genome
            The training data, to continue training; not needed for the getters and analyses.

        Returns
        -------
        The model (weights loaded with ``weights_only=True``).
        """
        dir_path = Path(dir_path)
        meta = _read_meta(dir_path)
        config = build_config(CellSpaceConfig, meta["config"], dir_path)
        if adata is not None:
            if genome is None:
                raise SeqatacInputError("pass genome= together with adata= to load a model with its training data.")
            model = cls(adata, genome, random_state=meta["random_state"], **meta["config"])
            model._load_state(dir_path)
            return model
        model = cls.__new__(cls)
        model.config = config
        model._data = None
        counts = dir_path / _COUNTS_FILE
        model.kmer_counts = read_array(counts) if counts.is_file() else None
        cells = _read_cells(dir_path)
        model._init_cells(pd.Index(cells["cell"].to_numpy(dtype=object), name="cell"), cells["dataset"].to_numpy(np.int64))
        model.module = CellSpaceModule(config.layout.n_rows, len(cells), config.n_latent, init_sd=config.init_sd,
                                       max_norm=config.max_norm)
        model.random_state = int(meta["random_state"])
        load_module_state(model.module, read_weights(dir_path / _WEIGHTS_FILE), dir_path)
        model.epochs_done = int(meta["epochs_done"])
        model.history = {key: list(values) for key, values in meta["history"].items()}
        return model


def _read_meta(dir_path: Path) -> dict:
    return read_config(dir_path, model="CellSpace", title="CellSpace", format_version=FORMAT_VERSION,
                       required=("config", "random_state", "epochs_done", "history"))


def _read_cells(dir_path: Path) -> pd.DataFrame:
    return read_table(dir_path, _CELLS_FILE, columns=("cell", "dataset"), sep="\t", dtype={"cell": str},
                      keep_default_na=False, unique="cell")
