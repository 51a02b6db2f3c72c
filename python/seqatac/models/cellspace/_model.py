"""CellSpace: co-embedding of DNA k-mers and cells from scATAC-seq (Tayyebi et al., Nat. Methods 2023).

Training reproduces the authors' StarSpace fork (zakieh-tayyebi/CellSpace): per epoch, ``examples_per_event``
examples for every event (peak or tile), shuffled; an example is a random ``sample_length``-bp window of
the event (its canonical k-mers plus hashed N-grams, the LHS), one cell drawn uniformly among the cells in
which the event is open (the positive RHS) and ``n_candidates`` negative candidates drawn from the same
dataset (a random event, then a random open cell of it). See :mod:`._module` for the loss and update.

Implementation choice: **vectorised minibatches in numpy + torch** (no numba, no autograd, no compiler).
A *chunk* of examples (512 by default) is one array program: lookup tables turn every window into its
k-mer and N-gram rows in a few vector operations (numpy), the bag sums are one ``embedding_bag`` (fbgemm)
over the chunk's unique rows, and StarSpace's per-row AdaGrad update is applied to each touched row once,
after one sort, with whole-row gathers and scatters (numpy ``take``/``put``) into the big N-gram table —
the random memory traffic that bounds the speed. Every heavy call releases the GIL, so several *worker
threads* (``n_threads``; one intra-op torch thread each, no OpenMP barriers that stall on a busy machine)
train Hogwild-style on disjoint parts of each epoch, as StarSpace's threads do; the k-mer and cell rows
that all workers touch are updated under a lock. With one thread the run is sequential and deterministic
for a seed. The mini-batch of 5 examples sharing one set of negative candidates is kept (``group_size``).
Why not numba: it is not a dependency here, and a compiled per-row loop would mainly fuse the few passes
that the vectorised update makes over the chunk's rows; the random reads and writes of the N-gram table,
which dominate, stay the same. The vectorised design already trains an order of magnitude faster than the
authors' C++ on the same machine (benchmarks/cellspace.py).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from ... import _keys
from ..._errors import SeqatacInputError, SeqatacWarning
from ..._progress import progress_bar
from ..._settings import settings
from ..._utils import is_whole
from ...data import Genome, layer_matrix, validate_atac
from .._training import data_digest, deterministic_algorithms, num_threads
from ._config import CellSpaceConfig
from ._io import _CONFIG_FILE, SavingMixin
from ._kmers import canonical_kmers
from ._module import CellSpaceModule
from ._sequences import SequenceEmbeddingMixin
from ._tf_activity import MotifActivityMixin
from ._training_data import (
    _SETUP_KEY,
    _build_training_data,
    _chunks,
    _epoch_parts,
    _kmer_counts,
    _TrainingData,
)

logger = logging.getLogger(__name__)


# ============================================================================================ the model


class CellSpace(SequenceEmbeddingMixin, MotifActivityMixin, SavingMixin):
    """CellSpace model: a joint embedding of DNA k-mers and cells trained from scATAC-seq peaks.

    Parameters
    ----------
    adata
        Cells × events AnnData with peak coordinates (``var`` columns or ``chr:start-end`` names), or a
        list of them to train jointly (each is a dataset with its own event set; negatives are drawn
        within the example's dataset). Any non-zero count means "open". Counts are read from ``X``, or
        from the layer declared with :meth:`setup_anndata`.
    genome
        The :class:`~seqatac.data.Genome` of the events, or one per AnnData.
    random_state
        Seed of the table initialisation.
    **config
        Hyper-parameters, see :class:`CellSpaceConfig` (defaults are the authors').

    Attributes
    ----------
    cell_names, cell_dataset
        Cell names and dataset index, in training order (datasets concatenated in the order given).
    kmer_counts
        ``(n_kmers,)`` occurrences of each canonical k-mer in the training events (used to skip unreliable,
        rare k-mers in :func:`seqatac.tl.denovo_motifs`).
    history
        Per-epoch ``loss``, ``active_fraction``, ``examples_per_s`` and ``seconds``.

    Notes
    -----
    Cell names and order are kept: every per-cell output follows the order of ``adata.obs_names``.
    """

    def __init__(
        self,
        adata: AnnData | Sequence[AnnData],
        genome: Genome | Sequence[Genome],
        *,
        random_state: int = 0,
        **config,
    ):
        adatas = [adata] if isinstance(adata, AnnData) else list(adata)
        genomes = [genome] * len(adatas) if isinstance(genome, Genome) else list(genome)
        if not adatas or any(not isinstance(a, AnnData) for a in adatas):
            raise SeqatacInputError("CellSpace needs an AnnData (cells × peaks) or a non-empty list of them.")
        if len(genomes) != len(adatas) or any(not isinstance(g, Genome) for g in genomes):
            raise SeqatacInputError(
                f"CellSpace got {len(adatas)} AnnData but {len(genomes)} genome(s); pass one seqatac.data.Genome "
                "for all datasets or one per AnnData, in the same order."
            )
        unknown = sorted(set(config) - {f.name for f in dataclasses.fields(CellSpaceConfig)})
        if unknown:
            raise SeqatacInputError(f"CellSpace has no parameter(s) {unknown}; valid: "
                                    f"{[f.name for f in dataclasses.fields(CellSpaceConfig)]}.")
        self.config = CellSpaceConfig(**config)
        for a in adatas:
            if _SETUP_KEY not in a.uns.get(_keys.SEQATAC_UNS, {}):
                validate_atac(a)  # not set up: counts in X (validated, adata left unchanged)
        names = pd.Index(np.concatenate([a.obs_names.to_numpy(dtype=object) for a in adatas]), name="cell")
        if len(adatas) > 1 and not names.is_unique:
            repeated = names[names.duplicated()].unique()
            raise SeqatacInputError(
                f"the {len(adatas)} data sets share {len(repeated):,} cell name(s) (e.g. {repeated[0]!r}; the same "
                "data set given twice?), so a cell's embedding could not be told from another's. Fix: give each "
                "sample its own barcodes, e.g. adata.obs_names = 'sample1_' + adata.obs_names."
            )
        self._data: _TrainingData | None = _build_training_data(adatas, genomes, self.config)
        self.kmer_counts = _kmer_counts(self._data.sequences, self._data.train_events, self.config.k)
        self._init_cells(
            names,
            np.concatenate([np.full(a.n_obs, d, dtype=np.int64) for d, a in enumerate(adatas)]),
        )
        self._init_module(random_state)

    def _init_cells(self, names: pd.Index, dataset: np.ndarray) -> None:
        self.cell_names = names
        self.cell_dataset = dataset
        self.epochs_done = 0
        self.history: dict[str, list[float]] = {"loss": [], "active_fraction": [], "examples_per_s": [], "seconds": []}

    def _init_module(self, random_state: int) -> None:
        generator = torch.Generator().manual_seed(int(random_state))
        self.module = CellSpaceModule(
            self.config.layout.n_rows, len(self.cell_names), self.config.n_latent,
            init_sd=self.config.init_sd, max_norm=self.config.max_norm, generator=generator,
        )  # fmt: skip
        self.random_state = int(random_state)

    def __repr__(self):
        trained = f"trained {self.epochs_done} epochs" if self.epochs_done else "not trained"
        return (
            f"CellSpace({len(self.cell_names):,} cells in {self.n_datasets} dataset(s), d={self.config.n_latent}, "
            f"k={self.config.k}, N={self.config.ngrams}, bucket={self.config.bucket:,}; {trained})"
        )

    @property
    def n_datasets(self) -> int:
        """Number of jointly trained datasets."""
        return int(self.cell_dataset.max()) + 1 if len(self.cell_dataset) else 0

    # ------------------------------------------------------------------------------------ setup

    @classmethod
    def setup_anndata(cls, adata: AnnData, *, layer: str | None = None) -> None:
        """Declare where the counts are and validate them; records the choice in ``uns["seqatac"]``.

        Parameters
        ----------
        adata
            Cells × peaks AnnData with peak coordinates.
        layer
            Layer holding the counts; ``None`` uses ``adata.X``. Any non-zero value counts as open.

        Returns
        -------
        None. Writes ``adata.uns["seqatac"]["cellspace_setup"] = {"layer": layer}``.
        """
        counts = layer_matrix(adata, layer)
        validate_atac(adata if layer is None else AnnData(counts, obs=adata.obs[[]], var=adata.var))
        adata.uns.setdefault(_keys.SEQATAC_UNS, {})[_SETUP_KEY] = {"layer": layer}

    def memory_report(self) -> dict[str, int]:
        """Bytes held by the model: ``feature_table`` (k-mer + N-gram rows with their AdaGrad accumulators),
        ``ngram_table`` (its bucket part), ``cell_table`` and ``training_data`` (sequences, open-cell lists)."""
        features, cells = self.module.features, self.module.cells
        return {
            "feature_table": features.numel() * 4,
            "ngram_table": self.config.layout.n_ngram_rows * features.shape[1] * 4,
            "cell_table": cells.numel() * 4,
            "training_data": self._data.nbytes if self._data is not None else 0,
        }

    # ------------------------------------------------------------------------------------ training

    def fit(
        self,
        n_epochs: int = 50,
        *,
        random_state: int = 0,
        n_threads: int | None = None,
        chunk_size: int = 512,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 1,
        resume: bool = False,
        verbose: bool = True,
    ) -> "CellSpace":
        """Train for ``n_epochs`` epochs (continuing from ``epochs_done`` when called again).

        Parameters
        ----------
        n_epochs
            Total epochs of the run (the authors use 50); the learning rate decays linearly over them.
        random_state
            Seed of the example stream (windows, positives, negatives); epoch ``e`` draws from
            ``SeedSequence(random_state, spawn_key=(e,))``, so a resumed run repeats an uninterrupted one.
        n_threads
            Worker threads training Hogwild-style on parts of each epoch (each uses one torch thread);
            default: all available cores (one when ``seqatac.settings.deterministic``). With one thread the
            run is sequential and deterministic.
        chunk_size
            Examples scored against one snapshot of the tables and updated together. Larger chunks amortise
            the per-chunk work (512 trains ~15% faster than 256 on two cores, with the same toy purity and
            `medium` label score, benchmarks/cellspace.py); their updates are staler, as with more Hogwild threads.
        checkpoint_dir
            Save the model there every ``checkpoint_every`` epochs (and at the end).
        resume
            Load ``checkpoint_dir`` first and continue from its last epoch.
        verbose
            Show a progress bar (epochs, loss, examples/s).

        Returns
        -------
        self. ``history`` holds per-epoch ``loss`` (mean hinge sum / n_candidates), ``active_fraction``
        (examples with a violating negative, the only ones that update the model), ``examples_per_s`` and
        ``seconds``.
        """
        if self._data is None:
            raise SeqatacInputError(
                "this CellSpace model was loaded without its training data; load it with "
                "CellSpace.load(dir_path, adata=..., genome=...) to continue training."
            )
        if not is_whole(n_epochs) or n_epochs < 1:
            raise SeqatacInputError(f"n_epochs={n_epochs!r} must be a positive integer.")
        if not is_whole(chunk_size) or chunk_size < 1:
            raise SeqatacInputError(f"chunk_size={chunk_size!r} must be a positive integer.")
        if resume:
            if checkpoint_dir is None:
                raise SeqatacInputError("resume=True needs checkpoint_dir, the directory of the earlier run.")
        self._training_fingerprint = self._fingerprint(random_state)
        if resume and (Path(checkpoint_dir) / _CONFIG_FILE).is_file():
            self._load_state(Path(checkpoint_dir), fingerprint=self._training_fingerprint)
        if n_threads is None:  # Hogwild workers race on shared rows: one worker is the deterministic choice
            n_threads = 1 if settings.deterministic else _available_cores()
        n_threads = int(n_threads)
        if settings.deterministic and n_threads > 1:
            warnings.warn(f"n_threads={n_threads}: Hogwild workers make CellSpace training nondeterministic although "
                          "seqatac.settings.deterministic is set; use n_threads=1.", SeqatacWarning, stacklevel=2)
        if n_threads < 1:
            raise SeqatacInputError(f"n_threads={n_threads!r} must be >= 1.")
        data, config = self._data, self.config
        per_epoch = len(data.train_events) * config.examples_per_event
        total = per_epoch * int(n_epochs)
        memory = self.memory_report()
        logger.info(
            "CellSpace: %d events × %d examples/epoch, %d cells, feature table %.1f MB (N-gram buckets %.1f MB), "
            "training data %.1f MB, %d thread(s)",
            len(data.train_events), config.examples_per_event, len(self.cell_names), memory["feature_table"] / 1e6,
            memory["ngram_table"] / 1e6, memory["training_data"] / 1e6, n_threads,
        )  # fmt: skip
        epochs = range(self.epochs_done, int(n_epochs))
        progress = progress_bar(epochs, desc="CellSpace", unit="epoch", initial=epochs.start, total=epochs.stop,
                                disable=not verbose)
        # parallelism comes from the workers; no OpenMP barriers on a busy machine
        with num_threads(1), deterministic_algorithms():
            for epoch in progress:
                started = time.perf_counter()
                loss_sum, n_active = self._run_epoch(
                    epoch, seed=random_state, n_threads=n_threads, chunk_size=int(chunk_size), total=total
                )
                seconds = time.perf_counter() - started
                self.epochs_done = epoch + 1
                self.history["loss"].append(loss_sum / per_epoch)
                self.history["active_fraction"].append(n_active / per_epoch)
                self.history["examples_per_s"].append(per_epoch / seconds)
                self.history["seconds"].append(seconds)
                if verbose:
                    progress.set_postfix(loss=f"{loss_sum / per_epoch:.4f}", ex_s=f"{per_epoch / seconds:,.0f}")
                logger.debug("epoch %d: loss %.5f, %.0f examples/s", epoch + 1, loss_sum / per_epoch, per_epoch / seconds)
                last = self.epochs_done == n_epochs
                if checkpoint_dir is not None and (last or self.epochs_done % max(1, checkpoint_every) == 0):
                    self.save(checkpoint_dir, overwrite=True)
        return self

    def _fingerprint(self, seed: int) -> dict:
        """What a checkpoint must share with this run to resume it: the seed and the training data (the events'
        sequences stand for the genome and the peaks)."""
        data = self._data
        digest = data_digest(data.sequences.lengths, data.sequences._flat, data.event_indptr, data.event_cells,
                             data.train_events, np.asarray(self.cell_names, dtype=object))
        return {"seed": int(seed), "data_sha256": digest}

    def _run_epoch(self, epoch: int, *, seed: int, n_threads: int, chunk_size: int, total: int) -> tuple[float, int]:
        """One epoch with ``n_threads`` Hogwild workers; returns (summed loss, examples with an update)."""
        data, config = self._data, self.config
        per_epoch = len(data.train_events) * config.examples_per_event
        parts = _epoch_parts(len(data.train_events), config, seed=seed, epoch=epoch, n_parts=n_threads)
        lock = threading.Lock() if n_threads > 1 else None
        results: list = [None] * len(parts)

        def work(index: int, order: np.ndarray, rng: np.random.Generator) -> None:
            loss_sum, n_active, done = 0.0, 0, 0
            try:
                for chunk in _chunks(data, config, order, rng, chunk_size):
                    # global progress, counting the other workers as equally advanced
                    progress = (epoch * per_epoch + done * len(parts)) / total
                    loss = self.module.train_step(
                        torch.from_numpy(chunk.features), torch.from_numpy(chunk.positives),
                        torch.from_numpy(chunk.candidates), lr=config.lr + (config.final_lr - config.lr) * progress,
                        margin=config.margin, max_negatives=config.max_negatives,
                        n_shared_rows=config.layout.n_kmers, lock=lock,
                    )  # fmt: skip
                    loss_sum += float(loss.sum())
                    n_active += int((loss > 0).sum())
                    done += len(chunk.positives)
                results[index] = (loss_sum, n_active)
            except BaseException as error:  # re-raised by the caller
                results[index] = error

        if len(parts) == 1:
            work(0, *parts[0])
        else:
            workers = [threading.Thread(target=work, args=(i, *part), name=f"cellspace-{i}") for i, part in enumerate(parts)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(r[0] for r in results), sum(r[1] for r in results)

    # ------------------------------------------------------------------------------------ getters

    def _dataset_rows(self, adata: AnnData | None) -> np.ndarray:
        if adata is None:
            return np.arange(len(self.cell_names))
        for d in range(self.n_datasets):
            rows = np.flatnonzero(self.cell_dataset == d)
            if len(rows) == adata.n_obs and np.array_equal(self.cell_names[rows], adata.obs_names):
                return rows
        raise SeqatacInputError(
            "adata's obs_names do not match the cells of any dataset this model was trained on (same names, "
            "same order); pass one of the training AnnData objects, or None for all cells."
        )

    @torch.inference_mode()
    def get_latent_representation(self, adata: AnnData | None = None) -> np.ndarray:
        """Cell embedding.

        Parameters
        ----------
        adata
            One of the training AnnData objects (its cells, in its order); ``None`` = all cells.

        Returns
        -------
        ``float32`` ``(n_cells, n_latent)``, rows in ``obs_names`` order.
        """
        return self.module.cell_embedding[torch.from_numpy(self._dataset_rows(adata))].numpy().copy()

    @torch.inference_mode()
    def get_kmer_embedding(self) -> pd.DataFrame:
        """Embedding of the canonical k-mers.

        Returns
        -------
        DataFrame ``(n_kmers, n_latent)`` indexed by the canonical k-mers (32,896 rows for k = 8).
        """
        layout = self.config.layout
        rows = self.module.feature_embedding[: layout.n_kmers].numpy().copy()
        return pd.DataFrame(rows, index=canonical_kmers(self.config.k))

    def write_to_adata(self, adata: AnnData, *, tf_activity: pd.DataFrame | None = None) -> None:
        """Write the results for one training dataset into its AnnData.

        Parameters
        ----------
        adata
            One of the training AnnData objects.
        tf_activity
            Output of :meth:`get_tf_activity` (all cells or this dataset's) to store as well.

        Returns
        -------
        None. Writes ``obsm["X_cellspace"]`` (n_cells × n_latent), ``obsm["cellspace_tf"]`` (DataFrame
        n_cells × n_motifs, when given) and ``uns["seqatac"]["cellspace"]`` (``params``, ``epochs``,
        ``motif_id``/``motif_name`` when TF activity is written).
        """
        rows = self._dataset_rows(adata)
        adata.obsm[_keys.CELLSPACE_OBSM] = self.get_latent_representation(adata)
        record = {"params": dataclasses.asdict(self.config), "epochs": self.epochs_done}
        if tf_activity is not None:
            activity = tf_activity.reindex(self.cell_names[rows])
            if activity.isna().all(axis=1).any():
                raise SeqatacInputError("tf_activity lacks some of adata's cells; compute it with get_tf_activity().")
            adata.obsm[_keys.CELLSPACE_TF] = pd.DataFrame(activity.to_numpy(), index=adata.obs_names, columns=activity.columns.astype(str))
            record["motif_id"] = np.asarray(tf_activity.attrs.get("motif_id", []), dtype=str)
            record["motif_name"] = np.asarray(tf_activity.attrs.get("motif_name", []), dtype=str)
        adata.uns.setdefault(_keys.SEQATAC_UNS, {})["cellspace"] = record


# ============================================================================================ helpers


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
