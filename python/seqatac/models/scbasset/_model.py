"""The user-facing scBasset model: AnnData (cells × peaks) in; embeddings, predictions and analyses out.

Yuan H., Kelley D.R. "scBasset: sequence-based modeling of single-cell ATAC-seq using convolutional
neural networks." Nature Methods 19, 1088–1096 (2022). Method names follow scvi-tools.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from anndata import AnnData

from ... import _keys
from ..._errors import SeqatacInputError, SeqatacWarning
from ..._utils import check_random_state
from ...data import Genome, Motif, check_labels, layer_matrix, validate_atac
from ...interpret import predict
from .._training import child_seed
from ._analyses import SequenceAnalysisMixin
from ._anndata import write_results
from ._data import PeakTargets, peak_filter, split_peaks
from ._io import _SPLITS, load_model, save_model
from ._module import NormalizedOutput, ScBassetConfig, ScBassetModule
from ._train import Trainer, TrainingOptions

logger = logging.getLogger(__name__)

_ARCHITECTURE = tuple(f.name for f in fields(ScBassetConfig) if f.name not in ("n_cells", "n_batches"))
_IN_MEMORY_SEQUENCE_BYTES = 2**30  # above this, suggest an on-disk sequence cache


class ScBasset(SequenceAnalysisMixin):
    """scBasset: a CNN that predicts every cell's accessibility of a peak from the peak's DNA sequence.

    The weights of the last layer are the cell embedding and its bias is the per-cell intercept
    (sequencing depth). Users see cells × peaks; peak-major batching happens inside.

    Parameters
    ----------
    adata
        AnnData (n_cells, n_peaks) with counts (any value > 0 is open) and peak coordinates in ``var``
        columns or names. Call :meth:`setup_anndata` first to choose a layer or a batch key.
    genome
        :class:`~seqatac.data.Genome` or the path of the genome FASTA the peaks were called on.
    l2_cell, l2_batch
        scBasset-BC penalties ``λ · Σ w²`` on the cell-embedding and batch-path weights (paper: 1e-6 on
        mixed-chemistry PBMC, 1e-8 on Buenrostro2018). Used only with a batch key.
    train_fraction
        Peaks used for training; the rest is split in halves into validation and test (authors: 0.9).
    min_cell_fraction
        Model only peaks open in at least this fraction of cells (authors: 0.01 Buenrostro2018, 0.05 10x).
    standard_chromosomes
        Model only peaks on chr1-22, X, Y (the authors' filter).
    sequence_cache
        Path of an on-disk ``int8`` sequence cache (``.npy``, memory-mapped, reused when valid) for peak sets
        too large to encode in memory (1,344 bytes per peak).
    random_state
        Seed for the weight initialisation, the peak split and training (shuffles, augmentation, dropout).
    **architecture
        :class:`ScBassetConfig` fields (``seq_len``, ``n_filters_init``, ``n_tower_layers``,
        ``bottleneck_size``, ...). The defaults are the authors' (4,513,960 + 33·n_cells parameters).

    Examples
    --------
    >>> ScBasset.setup_anndata(adata, batch_key=None)
    >>> model = ScBasset(adata, "hg38.fa")
    >>> model.fit(max_epochs=1000)
    >>> model.write_to_adata(adata)   # obsm["X_scbasset"], obs["scbasset_intercept"], uns["seqatac"]["scbasset"]
    """

    def __init__(
        self,
        adata: AnnData,
        genome: Genome | str | os.PathLike,
        *,
        l2_cell: float = 0.0,
        l2_batch: float = 0.0,
        train_fraction: float = 0.9,
        min_cell_fraction: float = 0.0,
        standard_chromosomes: bool = False,
        sequence_cache: str | os.PathLike | None = None,
        random_state: int | None = 0,
        **architecture,
    ):
        unknown = sorted(set(architecture) - set(_ARCHITECTURE))
        if unknown:
            raise SeqatacInputError(
                f"unknown scBasset argument(s) {unknown}; architecture options are {list(_ARCHITECTURE)}."
            )
        for name, value in (("l2_cell", l2_cell), ("l2_batch", l2_batch)):
            if not value >= 0:
                raise SeqatacInputError(f"{name} must be >= 0, got {value!r}.")
        setup = _stored_setup(adata)
        if setup is None:
            logger.info("setup_anndata was not called: using adata.X and no batch key")
            self.setup_anndata(adata)
            setup = _stored_setup(adata)
        seed = _resolve_seed(random_state)
        matrix = adata.layers[setup["layer"]] if setup.get("layer") else adata.X
        regions = validate_atac(adata if not setup.get("layer") else _with_matrix(adata, matrix))
        targets = PeakTargets.from_matrix(matrix)
        keep = peak_filter(regions, targets, min_cell_fraction=min_cell_fraction,
                           standard_chromosomes=standard_chromosomes)
        weight_seed, split_seed, self._train_seed = (int(s.generate_state(1)[0])
                                                     for s in np.random.SeedSequence(seed).spawn(3))
        kept = np.flatnonzero(keep)
        splits = {name: kept[index] for name, index in split_peaks(
            len(kept), train_fraction=train_fraction, random_state=split_seed).items()}
        batch_names, batch_onehot = _batches(adata, setup.get("batch_key"))
        config = ScBassetConfig(n_cells=adata.n_obs, n_batches=len(batch_names), **architecture)
        module = ScBassetModule(config, batch_onehot=batch_onehot)
        generator = torch.Generator().manual_seed(weight_seed)
        module.reset_parameters(generator)
        params = {
            "l2_cell": float(l2_cell), "l2_batch": float(l2_batch), "train_fraction": float(train_fraction),
            "min_cell_fraction": float(min_cell_fraction), "standard_chromosomes": bool(standard_chromosomes),
            "random_state": seed,
        }
        self._init(
            module=module, cell_names=adata.obs_names, regions=regions, splits=splits, genome=genome,
            setup=setup, params=params, batch_names=batch_names, adata=adata, targets=targets,
            sequence_cache=sequence_cache,
        )

    def _init(self, *, module, cell_names, regions, splits, genome, setup, params, batch_names, adata,
              targets, sequence_cache, history=None):
        self.module: ScBassetModule = module.use_channels_last(True)
        self.cell_names = pd.Index(cell_names)
        self.regions: pd.DataFrame = regions
        self.splits: dict[str, np.ndarray] = splits
        self.genome = Genome(genome) if isinstance(genome, (str, os.PathLike)) else genome
        self.setup = dict(setup)
        self.params = dict(params)
        self.batch_names = list(batch_names)
        self.history = pd.DataFrame(history or [])
        self._adata, self._targets = adata, targets
        self.sequence_cache = Path(sequence_cache) if sequence_cache is not None else None
        self._codes = None
        self.is_trained = bool(history)
        self.model_dir: Path | None = None

    # ------------------------------------------------------------------------------------------ setup

    @classmethod
    def setup_anndata(cls, adata: AnnData, *, batch_key: str | None = None, layer: str | None = None) -> None:
        """Declare where the counts and (for scBasset-BC) the batches are; stored in ``adata.uns``.

        Parameters
        ----------
        adata
            AnnData (n_cells, n_peaks).
        batch_key
            ``obs`` column of batch labels: trains scBasset-BC (a batch path added to the cell logits).
        layer
            Layer holding the counts; default ``adata.X``.

        Returns
        -------
        None. Sets ``adata.uns["seqatac"]["scbasset"]["setup"]``.
        """
        layer_matrix(adata, layer)
        if batch_key is not None:
            if batch_key not in adata.obs:
                raise SeqatacInputError(
                    f"batch_key {batch_key!r} is not an obs column ({list(adata.obs.columns)[:10]}); pass an existing column."
                )
            check_labels(adata.obs[batch_key], f"obs[{batch_key!r}]")
        setup = {key: value for key, value in (("batch_key", batch_key), ("layer", layer)) if value is not None}
        adata.uns.setdefault(_keys.SEQATAC_UNS, {}).setdefault(_keys.SCBASSET_UNS, {})["setup"] = setup

    @property
    def config(self) -> ScBassetConfig:
        """The architecture."""
        return self.module.config

    @property
    def seq_len(self) -> int:
        """Input sequence length in bp."""
        return self.config.seq_len

    def __repr__(self):
        state = "trained" if self.is_trained else "untrained"
        bc = f", scBasset-BC over {len(self.batch_names)} batches" if self.batch_names else ""
        return (f"ScBasset({len(self.cell_names):,} cells × {len(self.regions):,} peaks, "
                f"{self.module.n_parameters:,} parameters, {state}{bc})")

    # ------------------------------------------------------------------------------------------ data

    def _peak_codes(self) -> np.ndarray:
        """Integer codes ``(n_peaks, seq_len)`` of every peak (encoded once; memory-mapped with a cache)."""
        if self._codes is None:
            self._require_genome()
            if self.sequence_cache is None and len(self.regions) * self.seq_len > _IN_MEMORY_SEQUENCE_BYTES:
                warnings.warn(
                    f"encoding {len(self.regions):,} peak sequences in memory "
                    f"({len(self.regions) * self.seq_len / 2**30:.1f} GiB); pass sequence_cache='peaks.npy' "
                    "to keep them in a memory-mapped file instead.", SeqatacWarning, stacklevel=3,
                )
            if self.sequence_cache is not None:
                self._codes = self.genome.cache_encoded(self.regions, width=self.seq_len, path=self.sequence_cache)
            else:
                self._codes = self.genome.encode_regions(self.regions, width=self.seq_len)
        return self._codes

    def _codes_of(self, peaks: np.ndarray) -> np.ndarray:
        if self._codes is not None:
            return np.asarray(self._codes[peaks])
        self._require_genome()
        return self.genome.encode_regions(self.regions.iloc[peaks], width=self.seq_len)

    def _require_genome(self) -> None:
        if self.genome is None:
            raise SeqatacInputError(
                "this model has no genome to read peak sequences from; load it with "
                "ScBasset.load(dir, genome='genome.fa')."
            )

    def _training_targets(self) -> PeakTargets:
        if self._targets is None:
            raise SeqatacInputError(
                "the accessibility data are not attached to this model; load it with ScBasset.load(dir, adata=adata)."
            )
        return self._targets

    # ------------------------------------------------------------------------------------------ training

    def fit(
        self,
        *,
        max_epochs: int = 1000,
        max_steps: int | None = None,
        batch_size: int = 128,
        cell_batch_size: int | None = None,
        lr: float = 0.01,
        early_stopping: bool = True,
        patience: int = 50,
        min_delta: float = 1e-6,
        restore_best: bool = True,
        reverse_complement: bool = True,
        shift_max: int = 3,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 1,
        checkpoint_steps: int | None = None,
        resume: bool = False,
        device: str = "auto",
        precision: str = "auto",
        n_threads: int | None = None,
        verbose: bool = True,
        recipe: str = "authors",
        cell_init: str | None = None,
        head_lr: float | None = None,
        head_warmup_epochs: float | None = None,
    ) -> None:
        """Train with binary cross-entropy and Adam (lr 0.01, betas 0.95/0.9995, eps 1e-7).

        Each step takes ``batch_size`` peaks from a fresh global permutation of the training peaks, with
        every cell's accessibility of those peaks as targets; the whole batch is reverse-complemented with
        probability 1/2 and shifted by a uniform ``-shift_max..shift_max`` bp. Per-cell auROC is tracked on
        the training and validation peaks each epoch; early stopping follows the training auROC (the
        embeddings keep improving after the validation auROC plateaus). Under ``torchrun`` the run is
        data-parallel (DDP: NCCL on GPUs, gloo on CPUs), each rank taking a share of every batch.

        Parameters
        ----------
        max_epochs
            Upper bound on epochs (the authors: 1,000).
        max_steps
            Also stop after this many optimizer steps, counted from the start of training like
            ``max_epochs`` (None: no bound). An epoch cut short is neither validated nor recorded in
            ``history`` (it is checkpointed, so a resume with a larger bound continues it); the weights are
            those of the last step unless ``restore_best`` finds a better completed epoch.
        batch_size
            Peaks per step (global, over all DDP ranks).
        cell_batch_size
            Also subsample this many cells per step (memory scales with it instead of n_cells).
        lr
            Adam learning rate.
        early_stopping, patience, min_delta
            Stop when the training auROC has not improved by ``min_delta`` for ``patience`` epochs.
        restore_best
            Keep the weights of the epoch with the best training auROC (as the authors' checkpoint).
        reverse_complement, shift_max
            Augmentation.
        checkpoint_dir
            Write ``checkpoint.pt`` there (atomically) every ``checkpoint_every`` epochs and, with
            ``checkpoint_steps``, every that many steps within an epoch.
        resume
            Continue from ``checkpoint_dir/checkpoint.pt`` when it exists: the result equals an
            uninterrupted run (single process, CPU, same settings). ``max_epochs`` counts from the start.
        device
            ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        precision
            ``"auto"`` (bf16 autocast on GPUs and on CPUs with native bf16, else fp32), ``"fp32"``, ``"bf16"``.
        n_threads
            torch intra-op threads during training (None: unchanged).
        verbose
            Progress bars (epochs with loss/auROC/ETA, and steps).
        recipe
            ``"authors"`` (default: the paper's recipe, random cell embedding, one learning rate) or
            ``"fast"`` (issue 18): the cell embedding starts from LSI of the training peaks, and the cell
            head learns at ``lr / 100``, warming up linearly over the first epoch, so that the tower learns
            to read that embedding. On the simulator's ``small`` the embedding then keeps 99 % of LSI's
            label score while the tower trains, instead of sitting at chance for ~30 epochs. Details and measurements: :mod:`seqatac.models.scbasset._recipes` and
            ``benchmarks/REPORT.md`` ("scBasset time to quality"). On a CPU, pair it with the narrower,
            cropped tower ``ScBasset(adata, genome, **seqatac.models.scbasset.CPU_ARCHITECTURE)`` (about
            10× faster epochs). The next three arguments override a recipe's choices (None: the recipe's value).
        cell_init
            ``"random"`` (He-normal, the authors') or ``"lsi"``; applied only to an untrained model (a
            resume restores the checkpoint's weights instead).
        head_lr
            Learning rate of the cell head (embedding + intercept), a separate Adam group (None: ``lr``
            for the authors' recipe, ``lr / 100`` for the fast one).
        head_warmup_epochs
            Epochs over which the cell head's learning rate ramps linearly from 0 (authors 0, fast 1).

        Returns
        -------
        None. Sets ``history`` (one row per epoch: train/val loss and auROC, seconds) and ``is_trained``.
        """
        options = TrainingOptions(
            max_epochs=max_epochs, max_steps=max_steps, batch_size=batch_size, cell_batch_size=cell_batch_size,
            lr=lr,
            early_stopping=early_stopping, patience=patience, min_delta=min_delta, restore_best=restore_best,
            reverse_complement=reverse_complement, shift_max=shift_max,
            checkpoint_dir=str(checkpoint_dir) if checkpoint_dir is not None else None,
            checkpoint_every=checkpoint_every, checkpoint_steps=checkpoint_steps, resume=resume, device=device,
            precision=precision, n_threads=n_threads, verbose=verbose, recipe=recipe, cell_init=cell_init,
            head_lr=head_lr, head_warmup_epochs=head_warmup_epochs,
        )
        trainer = Trainer(self, options)
        history = trainer.run(self._train_seed)
        self.history = pd.DataFrame(history)
        self.is_trained = True
        self.params["training"] = {**asdict(options), "precision": trainer.precision,
                                   "device": str(trainer.device)}

    # ------------------------------------------------------------------------------------------ getters

    def get_latent_representation(self) -> np.ndarray:
        """Cell embedding: the final layer's weights, ``(n_cells, bottleneck_size)``."""
        return self.module.cell_head.weight.detach().float().cpu().numpy().copy()

    def get_cell_intercept(self) -> np.ndarray:
        """Per-cell intercept (the final layer's bias; tracks log sequencing depth), ``(n_cells,)``."""
        return self.module.cell_head.bias.detach().float().cpu().numpy().copy()

    def predictor(self, output: str = "denoised") -> torch.nn.Module:
        """The network as a one-hot → output module for the ``seqatac.tl`` analyses (shares the weights).

        ``output``: ``"denoised"`` (``sigmoid(embedding · W)``, cells), ``"logits"`` (``embedding · W``) or
        ``"embedding"`` (the peak embedding).
        """
        return NormalizedOutput(self.module, output)

    def evaluate(self, split: str = "test", *, batch_size: int = 128, device=None, precision: str = "fp32",
                 verbose: bool = False) -> dict:
        """auROC and auPR on held-out peaks, per cell (ranking its peaks) and per peak (ranking cells).

        Parameters
        ----------
        split
            ``"test"``, ``"val"`` or ``"train"``.

        Returns
        -------
        ``{"per_cell": DataFrame (n_cells, [auroc, auprc]), "per_peak": DataFrame (n_split, [auroc, auprc]),
        "summary": {auroc_per_cell, auprc_per_cell, auroc_per_peak, auprc_per_peak} (means)}``. Predictions
        include the intercept (the full model). Memory: one float32 ``n_cells × n_split`` score matrix.
        """
        # (imported here: the metrics pull in igraph and scikit-learn, which training does not need)
        from ...metrics import auroc_auprc_rows

        if split not in _SPLITS:
            raise SeqatacInputError(f"split must be one of {_SPLITS}, got {split!r}.")
        peaks = self.splits[split]
        if len(peaks) == 0:
            raise SeqatacInputError(f"the {split} split is empty; use a train_fraction below 1.")
        targets = self._training_targets().subset_peaks(peaks)
        head = self.module.cell_head
        scores = np.empty((len(self.cell_names), len(peaks)), dtype=np.float32)
        per_peak = np.empty((len(peaks), 2))
        logits = predict(self.predictor("embedding"), self._codes_of(peaks), batch_size=batch_size,
                         device=device, precision=precision, verbose=verbose)
        weight, bias = head.weight.detach().float().cpu().numpy(), head.bias.detach().float().cpu().numpy()
        for start in range(0, len(peaks), batch_size):
            rows = np.arange(start, min(start + batch_size, len(peaks)))
            block = logits[rows] @ weight.T + bias  # (b, n_cells)
            scores[:, rows] = block.T
            truth = targets.dense_rows(rows).astype(bool)
            per_peak[rows, 0], per_peak[rows, 1] = auroc_auprc_rows(truth, block)
        truth = sp.csr_matrix((np.ones(len(targets.indices), dtype=bool), targets.indices, targets.indptr),
                              shape=(len(peaks), len(self.cell_names))).T.tocsr()
        per_cell = np.empty((len(self.cell_names), 2))
        for start in range(0, len(self.cell_names), 1024):
            rows = slice(start, start + 1024)
            per_cell[rows, 0], per_cell[rows, 1] = auroc_auprc_rows(truth[rows].toarray(), scores[rows])
        per_cell = pd.DataFrame(per_cell, index=self.cell_names, columns=["auroc", "auprc"])
        per_peak = pd.DataFrame(per_peak, index=self.regions.index[peaks], columns=["auroc", "auprc"])
        summary = {f"{metric}_per_{what}": float(np.nanmean(table[metric]))
                   for what, table in (("cell", per_cell), ("peak", per_peak)) for metric in ("auroc", "auprc")}
        return {"per_cell": per_cell, "per_peak": per_peak, "summary": summary}

    # ------------------------------------------------------------------------------------------ AnnData

    def write_to_adata(self, adata: AnnData | None = None, *, tf_activity: pd.DataFrame | None = None,
                       motifs: list[Motif] | None = None) -> None:
        """Write the results into an AnnData of the model's cells (default: the one it was built from).

        Parameters
        ----------
        adata
            AnnData whose ``obs_names`` are the model's cells in order.
        tf_activity
            Output of :meth:`get_tf_activity`, stored as a DataFrame in ``obsm["scbasset_tf"]``.
        motifs
            The motifs behind ``tf_activity``: their ids and names go to ``uns[...]["tf_motifs"]``.

        Returns
        -------
        None. Sets ``obsm["X_scbasset"]`` (n_cells, bottleneck), ``obs["scbasset_intercept"]``,
        ``obsm["scbasset_tf"]`` (with ``tf_activity``) and ``uns["seqatac"]["scbasset"]`` (``params``,
        ``model_dir``, ``history``, ``tf_motifs``).
        """
        write_results(self, adata, tf_activity=tf_activity, motifs=motifs)

    # ------------------------------------------------------------------------------------------ persistence

    def save(self, dir_path: str | os.PathLike, *, overwrite: bool = False, save_anndata: bool = False) -> None:
        """Save to a directory: ``config.json``, ``model.pt`` (state dict), ``cells.csv``, ``peaks.csv``.

        Parameters
        ----------
        dir_path
            Target directory (created).
        overwrite
            Replace an existing saved model there.
        save_anndata
            Also write the AnnData the model was built from as ``adata.h5ad``.

        Returns
        -------
        None. Every file is written atomically; ``model_dir`` is set.
        """
        save_model(self, dir_path, overwrite=overwrite, save_anndata=save_anndata)

    @classmethod
    def load(cls, dir_path: str | os.PathLike, *, adata: AnnData | None = None,
             genome: Genome | str | os.PathLike | None = None) -> "ScBasset":
        """Load a model saved by :meth:`save` (weights read with ``weights_only=True``).

        Parameters
        ----------
        dir_path
            The saved model's directory.
        adata
            The cells × peaks data (same cells and peaks): needed to evaluate or continue training.
            Default: ``adata.h5ad`` in the directory if present.
        genome
            Genome for peak sequences; default the FASTA recorded at save time, if it still exists.

        Returns
        -------
        :class:`ScBasset` on the CPU, in eval mode.
        """
        return load_model(cls, dir_path, adata=adata, genome=genome)


# ---------------------------------------------------------------------------------------------- helpers


def _stored_setup(adata: AnnData) -> dict | None:
    setup = adata.uns.get(_keys.SEQATAC_UNS, {}).get(_keys.SCBASSET_UNS, {}).get("setup")
    return dict(setup) if setup is not None else None


def _with_matrix(adata: AnnData, matrix) -> AnnData:
    """A lightweight AnnData sharing ``adata``'s obs/var with another matrix (to validate a layer)."""
    return AnnData(X=matrix, obs=pd.DataFrame(index=adata.obs_names), var=adata.var)


def _batches(adata: AnnData, batch_key: str | None) -> tuple[list[str], np.ndarray | None]:
    if batch_key is None:
        return [], None
    check_labels(adata.obs[batch_key], f"obs[{batch_key!r}]")  # a missing batch would get code -1: the last one
    labels = adata.obs[batch_key].astype("category")
    names = [str(c) for c in labels.cat.categories]
    onehot = np.zeros((len(names), adata.n_obs), dtype=np.float32)
    onehot[labels.cat.codes.to_numpy(), np.arange(adata.n_obs)] = 1
    return names, onehot


def _resolve_seed(random_state) -> int:
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    return child_seed(check_random_state(random_state))
