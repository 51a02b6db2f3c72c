"""Denoised, depth-normalised accessibility from a sequence model, streamed peak chunk by peak chunk."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from anndata import AnnData

from .._errors import SeqatacInputError
from .._progress import progress_bar
from .._utils import atomic_path
from ..data import parse_regions
from ._predict import iter_predict

logger = logging.getLogger(__name__)

DENOISED_DATASET = "denoised"


def denoise(
    adata: AnnData,
    model,
    *,
    layer: str | None = None,
    file: str | os.PathLike | None = None,
    peaks=None,
    chunk_size: int = 4096,
    batch_size: int = 128,
    dtype="float32",
    device=None,
    precision: str = "fp32",
    verbose: bool = True,
) -> None:
    """Write denoised accessibility of cells × peaks into a layer or stream it into an HDF5 file.

    The values are the model's per-cell predictions for each peak's sequence with the per-cell intercept
    (sequencing depth) dropped: for scBasset ``sigmoid(peak_embedding · W)``. Peaks are read from
    ``adata.var`` and need not be the peaks the model was trained on.

    Parameters
    ----------
    adata
        AnnData (n_cells, n_peaks) whose ``obs_names`` are the model's cells, in the same order.
    model
        A fitted seqatac sequence model (e.g. :class:`~seqatac.models.ScBasset`): it provides
        ``predictor("denoised")``, ``genome``, ``seq_len`` and ``cell_names``.
    layer
        Write the full dense matrix to ``adata.layers[layer]`` (float32, n_cells × n_peaks in memory:
        only for data that fit).
    file
        Stream into this HDF5 file instead: dataset ``denoised`` (n_cells, n_selected) plus ``obs_names``
        and ``var_names``; written atomically, memory bounded by ``chunk_size`` peaks.
    peaks
        Peaks to predict (var names, integer indices or a boolean mask); only with ``file``. Default all.
    chunk_size
        Peaks per chunk (sequences encoded and columns written at a time).
    batch_size, device, precision
        As :func:`seqatac.tl.predict`.
    dtype
        Stored dtype (``"float32"`` or ``"float16"``).
    verbose
        Show a progress bar.

    Returns
    -------
    None. Sets ``adata.layers[layer]`` or writes ``file``.
    """
    if (layer is None) == (file is None):
        raise SeqatacInputError("pass exactly one of layer= (in memory) or file= (streamed to HDF5).")
    if layer is not None and peaks is not None:
        raise SeqatacInputError("a layer covers all peaks; to predict selected peaks, write them to file= instead.")
    cells = pd.Index(model.cell_names)
    if not cells.equals(adata.obs_names):
        raise SeqatacInputError(
            f"adata has {adata.n_obs} cells that are not the model's {len(cells)} cells in the same order; "
            "pass the AnnData the model was trained on (or adata[model.cell_names])."
        )
    if getattr(model, "genome", None) is None:
        raise SeqatacInputError("the model has no genome to read peak sequences from; give it one (the genome "
                                "FASTA its peaks were called on) when loading it.")
    regions = parse_regions(adata.var)
    selected = select_peaks(regions.index, peaks)
    if len(selected) == 0:
        raise SeqatacInputError("no peaks to denoise: adata has 0 peaks (or peaks= selects none). Fix: pass the "
                                "AnnData of the model's peaks, or choose at least one peak.")
    dtype = np.dtype(dtype)
    predictor = model.predictor("denoised")
    options = dict(batch_size=batch_size, device=device, precision=precision)
    def chunks():
        with progress_bar(total=len(selected), desc="denoise", unit="peak", disable=not verbose) as bar:
            for first in range(0, len(selected), chunk_size):
                part = selected[first:first + chunk_size]
                codes = model.genome.encode_regions(regions.iloc[part], width=model.seq_len)
                for start, outputs in iter_predict(predictor, codes, **options):
                    yield first + start, outputs.T.cpu().numpy().astype(dtype, copy=False)
                bar.update(len(part))

    if layer is not None:
        matrix = np.empty((adata.n_obs, adata.n_vars), dtype=dtype)
        for start, block in chunks():
            matrix[:, start:start + block.shape[1]] = block
        adata.layers[layer] = matrix
        logger.info("added layers[%r] (%d × %d denoised accessibility)", layer, *matrix.shape)
        return
    path = Path(file)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        strings = h5py.string_dtype()
        handle.create_dataset("obs_names", data=np.asarray(adata.obs_names, dtype=object), dtype=strings)
        handle.create_dataset("var_names", data=np.asarray(regions.index[selected], dtype=object), dtype=strings)
        dataset = handle.create_dataset(
            DENOISED_DATASET, shape=(adata.n_obs, len(selected)), dtype=dtype,
            chunks=(min(adata.n_obs, 1024), min(len(selected), 256)),
        )
        for start, block in chunks():
            dataset[:, start:start + block.shape[1]] = block
    logger.info("wrote %d × %d denoised accessibility to %s", adata.n_obs, len(selected), path)


def select_peaks(names: pd.Index, peaks) -> np.ndarray:
    """Positions in ``names`` of ``peaks`` (var names, integer indices or a boolean mask; ``None``: all)."""
    if peaks is None:
        return np.arange(len(names))
    peaks = np.asarray(peaks)
    if peaks.dtype == bool:
        if peaks.shape != (len(names),):
            raise SeqatacInputError(f"a boolean peak mask needs {len(names)} values, got {peaks.shape}.")
        return np.flatnonzero(peaks)
    if np.issubdtype(peaks.dtype, np.integer):
        if peaks.size and (peaks.min() < -len(names) or peaks.max() >= len(names)):
            raise SeqatacInputError(f"peak indices must lie in [0, {len(names)}).")
        return np.arange(len(names))[peaks]
    positions = names.get_indexer(peaks.astype(str))
    if (positions < 0).any():
        missing = peaks[positions < 0][:3].tolist()
        raise SeqatacInputError(f"peaks {missing} are not in adata.var_names; pass existing peak names.")
    return positions
