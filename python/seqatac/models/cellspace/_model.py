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
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from ... import _keys
from ..._errors import SeqatacInputError, SeqatacWarning
from ..._settings import settings
from ...data import (
    N_CODE,
    Genome,
    Motif,
    encode_sequence,
    jaspar,
    motif_columns,
    parse_regions,
    read_motifs,
    validate_atac,
)
from .._persistence import (
    build_config,
    load_module_state,
    read_array,
    read_config,
    read_table,
    read_weights,
)
from .._targets import PeakTargets
from .._training import deterministic_algorithms, num_threads
from ._kmers import (
    EventSequences,
    FeatureLayout,
    canonical_kmers,
    feature_layout,
    window_features,
)
from ._module import CellSpaceModule

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_CONFIG_FILE, _WEIGHTS_FILE, _CELLS_FILE, _COUNTS_FILE = "config.json", "model.pt", "cells.tsv", "kmer_counts.npy"
_SETUP_KEY = "cellspace_setup"


@dataclass(frozen=True)
class CellSpaceConfig:
    """Hyper-parameters of :class:`CellSpace`; the defaults are the authors'.

    Attributes
    ----------
    n_latent
        Embedding dimension ``d`` (30).
    k
        k-mer length (8).
    ngrams
        Longest N-gram, in k-mers (3; 1 = k-mers only).
    sample_length
        Window length ``L`` in bp (150).
    bucket
        N-gram hash buckets (2,000,000; 240 MB of float32 rows at d = 30). Lower it to save memory.
    examples_per_event
        Training examples per event per epoch (20).
    margin
        Hinge margin (0.05).
    lr, final_lr
        Learning rate, decayed linearly to ``final_lr`` over training (0.01 → 1e-9).
    n_candidates
        Negative candidates searched per example (StarSpace ``negSearchLimit`` 50).
    max_negatives
        Most violating candidates used per example (``maxNegSamples`` 10).
    group_size
        Examples sharing one set of negative candidates (StarSpace ``batchSize`` 5).
    init_sd
        Standard deviation of the initial rows (0.001).
    max_norm
        Row norm bound (1).
    p
        Exponent of the bag normalisation ``sum / n^p`` used by :meth:`CellSpace.embed_sequences` (0.5).
    """

    n_latent: int = 30
    k: int = 8
    ngrams: int = 3
    sample_length: int = 150
    bucket: int = 2_000_000
    examples_per_event: int = 20
    margin: float = 0.05
    lr: float = 0.01
    final_lr: float = 1e-9
    n_candidates: int = 50
    max_negatives: int = 10
    group_size: int = 5
    init_sd: float = 0.001
    max_norm: float = 1.0
    p: float = 0.5

    def __post_init__(self):
        for name in ("n_latent", "sample_length", "examples_per_event", "n_candidates", "max_negatives", "group_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise SeqatacInputError(f"CellSpace: {name}={value!r} must be a positive integer.")
        for name in ("margin", "lr", "init_sd", "max_norm"):
            if not getattr(self, name) > 0:
                raise SeqatacInputError(f"CellSpace: {name}={getattr(self, name)!r} must be > 0.")
        if not 0 <= self.final_lr <= self.lr:
            raise SeqatacInputError(f"CellSpace: final_lr={self.final_lr!r} must lie in [0, lr={self.lr}].")
        if self.sample_length < self.k:
            raise SeqatacInputError(
                f"CellSpace: sample_length={self.sample_length} is shorter than k={self.k}; use sample_length >= k."
            )
        feature_layout(self.k, self.ngrams, self.bucket)

    @property
    def layout(self) -> FeatureLayout:
        """Row layout of the feature table."""
        return feature_layout(self.k, self.ngrams, self.bucket)


# ============================================================================================ training data


@dataclass
class _TrainingData:
    """Everything the sampler needs, for all datasets (events and cells concatenated in dataset order)."""

    sequences: EventSequences
    event_indptr: np.ndarray  # (n_events + 1,) into event_cells
    event_cells: np.ndarray  # int32 global cell ids, grouped by event
    event_dataset: np.ndarray  # (n_events,) dataset of each event
    train_events: np.ndarray  # events with an open cell and a k-mer
    dataset_events: list[np.ndarray]  # per dataset, its train events (negatives are drawn from them)

    @property
    def nbytes(self) -> int:
        arrays = (self.event_indptr, self.event_cells, self.event_dataset, self.train_events, *self.dataset_events)
        return self.sequences.nbytes + sum(a.nbytes for a in arrays)

    def open_cells(self, events: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniformly random open cell of each event."""
        first = self.event_indptr[events]
        count = self.event_indptr[events + 1] - first
        return self.event_cells[first + (rng.random(len(events)) * count).astype(np.int64)]


def _event_sequences(genome: Genome, regions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Flat ``int8`` codes of all regions (exact ``[start, end)``, N past chromosome ends) and their lengths."""
    lengths = (regions[_keys.END] - regions[_keys.START]).to_numpy(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    flat = np.empty(int(lengths.sum()), dtype=np.int8)
    for width in np.unique(lengths):  # a centred window of the region's own width is the region
        rows = np.flatnonzero(lengths == width)
        done = 0
        for codes in genome.iter_encoded(regions.iloc[rows], width=int(width), batch_size=1 << 16):
            flat[offsets[rows[done : done + len(codes)]][:, None] + np.arange(width)] = codes
            done += len(codes)
    return flat, lengths


def _setup_layer(adata: AnnData) -> str | None:
    setup = adata.uns.get(_keys.SEQATAC_UNS, {}).get(_SETUP_KEY, {})
    return setup.get("layer")


def _build_training_data(adatas: list[AnnData], genomes: list[Genome], config: CellSpaceConfig) -> _TrainingData:
    flats, lengths, indptrs, cells, datasets = [], [], [np.zeros(1, np.int64)], [], []
    cell_offset = 0
    for index, (adata, genome) in enumerate(zip(adatas, genomes)):
        layer = _setup_layer(adata)
        matrix = adata.X if layer is None else adata.layers[layer]
        regions = parse_regions(adata.var)  # (the counts were validated by setup_anndata)
        # open cells of each event (sorted), transposed in bounded memory: no CSC copy of the counts
        events = PeakTargets.from_matrix(matrix)
        flat, length = _event_sequences(genome, regions)
        flats.append(flat)
        lengths.append(length)
        indptrs.append(events.indptr[1:] + indptrs[-1][-1])
        cells.append(events.indices + cell_offset if cell_offset else events.indices)
        del events
        datasets.append(np.full(adata.n_vars, index, dtype=np.int16))
        cell_offset += adata.n_obs
    sequences = EventSequences.from_flat(np.concatenate(flats), np.concatenate(lengths))
    indptr = np.concatenate(indptrs)
    event_cells = cells[0] if len(cells) == 1 else np.concatenate(cells)
    del cells
    event_dataset = np.concatenate(datasets)
    has_cells = np.diff(indptr) > 0
    has_kmer = sequences.lengths >= config.k
    train = np.flatnonzero(has_cells & has_kmer)
    if len(train) < len(has_cells):
        logger.info(
            "CellSpace skips %d events with no open cell and %d shorter than k=%d",
            int((~has_cells).sum()), int((has_cells & ~has_kmer).sum()), config.k,
        )  # fmt: skip
    per_dataset = [train[event_dataset[train] == d] for d in range(len(adatas))]
    empty = [d for d, events in enumerate(per_dataset) if len(events) == 0]
    if empty:
        raise SeqatacInputError(
            f"dataset(s) {empty} have no event with an open cell and a sequence of at least k={config.k} bp; "
            "pass count matrices with non-zero entries and peaks wider than k."
        )
    n_cells = cell_offset
    trained_cells = np.zeros(n_cells, dtype=bool)
    trained_cells[event_cells] = True
    if not trained_cells.all():
        warnings.warn(
            f"{int((~trained_cells).sum())} cell(s) have no open event: CellSpace cannot train them and their "
            "embedding stays at its random initialisation. Filter empty cells (seqatac.data.filter_cells) first.",
            SeqatacWarning,
            stacklevel=3,
        )
    return _TrainingData(sequences, indptr, event_cells, event_dataset, train, per_dataset)


def _kmer_counts(sequences: EventSequences, events: np.ndarray, k: int, batch_size: int = 4096) -> np.ndarray:
    """Occurrences of every canonical k-mer in the given events (both strands count once)."""
    layout = feature_layout(k, 1, 1)
    counts = np.zeros(layout.n_rows, dtype=np.int64)
    for begin in range(0, len(events), batch_size):
        batch = events[begin : begin + batch_size]
        width = int(sequences.lengths[batch].max())
        codes = sequences.windows(batch, width, np.random.default_rng(0))  # width >= every length: no sampling
        counts += np.bincount(window_features(codes, layout).ravel(), minlength=layout.n_rows)
    return counts[: layout.n_kmers]


@dataclass
class _Chunk:
    features: np.ndarray  # (B, F) int32
    positives: np.ndarray  # (B,) int64
    candidates: np.ndarray  # (B, K) int64


def _epoch_parts(n_events: int, config: CellSpaceConfig, *, seed: int, epoch: int, n_parts: int):
    """The shuffled events of one epoch's examples, split into ``n_parts`` (one per worker), each with its
    own generator. Depends only on (seed, epoch, n_parts), never on the model."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(epoch,)))
    order = rng.permutation(n_events * config.examples_per_event) % n_events
    if n_parts == 1:
        return [(order, rng)]
    rngs = [np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(epoch, part + 1))) for part in range(n_parts)]
    return list(zip(np.array_split(order, n_parts), rngs))


def _chunks(data: _TrainingData, config: CellSpaceConfig, order: np.ndarray, rng, chunk_size: int) -> Iterator[_Chunk]:
    """Examples of the events ``data.train_events[order]``, ``chunk_size`` at a time."""
    n_datasets = len(data.dataset_events)
    layout = config.layout
    for begin in range(0, len(order), chunk_size):
        events = data.train_events[order[begin : begin + chunk_size]]
        features = window_features(data.sequences.windows(events, config.sample_length, rng), layout)
        positives = data.open_cells(events, rng)
        n_groups = -(-len(events) // config.group_size)
        candidates = np.empty((n_groups, n_datasets, config.n_candidates), dtype=np.int64)
        for d, pool in enumerate(data.dataset_events):
            drawn = pool[rng.integers(0, len(pool), size=n_groups * config.n_candidates)]
            candidates[:, d] = data.open_cells(drawn, rng).reshape(n_groups, config.n_candidates)
        group = np.arange(len(events)) // config.group_size
        yield _Chunk(features, positives.astype(np.int64), candidates[group, data.event_dataset[events]])


# ============================================================================================ the model


class CellSpace:
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
        self.config = CellSpaceConfig(**config)
        for a in adatas:
            if _SETUP_KEY not in a.uns.get(_keys.SEQATAC_UNS, {}):
                validate_atac(a)  # not set up: counts in X (validated, adata left unchanged)
        self._data: _TrainingData | None = _build_training_data(adatas, genomes, self.config)
        self.kmer_counts = _kmer_counts(self._data.sequences, self._data.train_events, self.config.k)
        self._init_cells(
            pd.Index(np.concatenate([a.obs_names.to_numpy(dtype=object) for a in adatas]), name="cell"),
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
        if layer is not None and layer not in adata.layers:
            raise SeqatacInputError(f"layer {layer!r} is not in adata.layers ({list(adata.layers)}); pass None for X.")
        validate_atac(adata if layer is None else AnnData(adata.layers[layer], obs=adata.obs[[]], var=adata.var))
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
        if isinstance(n_epochs, bool) or int(n_epochs) != n_epochs or n_epochs < 1:
            raise SeqatacInputError(f"n_epochs={n_epochs!r} must be a positive integer.")
        if isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size < 1:
            raise SeqatacInputError(f"chunk_size={chunk_size!r} must be a positive integer.")
        if resume:
            if checkpoint_dir is None:
                raise SeqatacInputError("resume=True needs checkpoint_dir, the directory of the earlier run.")
            if (Path(checkpoint_dir) / _CONFIG_FILE).is_file():
                self._load_state(Path(checkpoint_dir))
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
        progress = _progress(range(self.epochs_done, int(n_epochs)), verbose)
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

    @torch.inference_mode()
    def embed_sequences(
        self, sequences, *, ngrams: bool = False, batch_size: int = 1024
    ) -> np.ndarray:
        """Embed DNA sequences: the sum of their feature rows divided by ``n^p`` (``n`` = features used).

        Parameters
        ----------
        sequences
            A list of strings (any lengths; N and IUPAC codes break k-mers), or ``int8`` codes ``(n, L)``.
        ngrams
            Add the sequence's hashed N-gram rows to its k-mers (the training features); by default only
            the k-mers are used, as the authors' R package does.
        batch_size
            Sequences embedded at once.

        Returns
        -------
        ``float32`` ``(n, n_latent)``; a sequence with no valid k-mer gets a row of NaN (with a warning).
        A sequence and its reverse complement embed identically.
        """
        codes = _as_code_rows(sequences)
        layout = self.config.layout if ngrams else feature_layout(self.config.k, 1, self.config.bucket)
        pad = self.config.layout.pad
        table, d = self.module.features, self.config.n_latent
        out = np.empty((len(codes), self.config.n_latent), dtype=np.float32)
        for begin in range(0, len(codes), batch_size):
            block = _pad_codes(codes[begin : begin + batch_size], self.config.k)
            features = window_features(block, layout)
            features[features == layout.pad] = pad  # k-mers-only layout has its own padding index
            counts = (features != pad).sum(1)
            summed = torch.nn.functional.embedding_bag(torch.from_numpy(features), table, mode="sum")[:, :d].numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                out[begin : begin + len(block)] = summed / (counts[:, None] ** self.config.p)
            out[begin : begin + len(block)][counts == 0] = np.nan
        empty = int(np.isnan(out[:, 0]).sum())
        if empty:
            warnings.warn(
                f"{empty} sequence(s) have no valid {self.config.k}-mer (shorter than k or interrupted by N); "
                "their embedding is NaN.",
                SeqatacWarning,
                stacklevel=2,
            )
        return out

    def get_motif_embedding(self, motifs=None) -> pd.DataFrame:
        """Embed TF motifs by their consensus sequence (argmax base per PFM column), k-mers only.

        Parameters
        ----------
        motifs
            A list of :class:`~seqatac.data.Motif`, a motif file (MEME/JASPAR/HOMER, see
            :func:`~seqatac.data.read_motifs`), or ``None`` for JASPAR 2024 CORE vertebrates (pyjaspar,
            offline). Motifs shorter than ``k`` are skipped with a warning.

        Returns
        -------
        DataFrame ``(n_motifs, n_latent)`` indexed by motif name (``name_id`` where names repeat), with
        ``attrs["motif_id"]`` and ``attrs["motif_name"]``.
        """
        motifs = _resolve_motifs(motifs)
        short = [m for m in motifs if m.length < self.config.k]
        if short:
            warnings.warn(
                f"skipping {len(short)} motif(s) shorter than k={self.config.k} (e.g. "
                f"{', '.join(f'{m.name} ({m.id}, {m.length} bp)' for m in short[:3])}): their consensus has no k-mer.",
                SeqatacWarning,
                stacklevel=2,
            )
        motifs = [m for m in motifs if m.length >= self.config.k]
        if not motifs:
            raise SeqatacInputError(f"no motif is at least k={self.config.k} bp long; pass longer motifs.")
        vectors = self.embed_sequences([m.consensus for m in motifs])

        frame = pd.DataFrame(vectors, index=pd.Index(motif_columns(motifs), name="motif"))
        frame.attrs["motif_id"] = [m.id for m in motifs]
        frame.attrs["motif_name"] = [m.name for m in motifs]
        return frame

    def get_tf_activity(self, motifs=None, *, adata: AnnData | None = None) -> pd.DataFrame:
        """TF activity: cosine similarity of each cell to each motif, z-scored across all cells per motif.

        Parameters
        ----------
        motifs
            As for :meth:`get_motif_embedding`.
        adata
            Return only that training dataset's cells (z-scores are still over all cells).

        Returns
        -------
        DataFrame ``(n_cells, n_motifs)`` indexed by cell names, columns as :meth:`get_motif_embedding`'s
        index (motif ids and names in ``attrs``).
        """
        motif_embedding = self.get_motif_embedding(motifs)
        cells = _unit_rows(self.get_latent_representation())
        similarity = cells @ _unit_rows(motif_embedding.to_numpy()).T
        sd = similarity.std(axis=0, ddof=1)
        activity = (similarity - similarity.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        rows = self._dataset_rows(adata)
        frame = pd.DataFrame(activity[rows].astype(np.float32), index=self.cell_names[rows], columns=motif_embedding.index)
        frame.attrs.update(motif_embedding.attrs)
        return frame

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

    # ------------------------------------------------------------------------------------ persistence

    def save(self, dir_path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Save to a directory: ``config.json`` (with ``format_version``), ``model.pt`` (state_dict: k-mer,
        N-gram and cell tables and AdaGrad accumulators), ``cells.tsv`` (cell names and dataset, in order) and
        ``kmer_counts.npy`` (occurrences of each canonical k-mer in the training events).

        The directory is written beside the target and renamed into place, so a failure leaves no partial
        model. Returns the directory.
        """
        target = Path(dir_path)
        if target.exists() and not overwrite:
            raise SeqatacInputError(f"{str(target)!r} exists; pass overwrite=True or choose another directory.")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes a 0700 directory; give the model the usual permissions
        try:
            meta = {
                "format_version": FORMAT_VERSION,
                "model": "CellSpace",
                "config": dataclasses.asdict(self.config),
                "random_state": self.random_state,
                "epochs_done": self.epochs_done,
                "history": self.history,
                "n_cells": len(self.cell_names),
            }
            (staging / _CONFIG_FILE).write_text(json.dumps(meta, indent=1))
            torch.save(self.module.state_dict(), staging / _WEIGHTS_FILE)
            cells = pd.DataFrame({"cell": self.cell_names.astype(str), "dataset": self.cell_dataset})
            cells.to_csv(staging / _CELLS_FILE, sep="\t", index=False)
            if self.kmer_counts is not None:
                np.save(staging / _COUNTS_FILE, self.kmer_counts, allow_pickle=False)
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                os.replace(target, old)
                os.replace(staging, target)
                shutil.rmtree(old)
            else:
                os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        return target

    def _load_state(self, dir_path: Path) -> None:
        meta = _read_meta(dir_path)
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


# ============================================================================================ helpers


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _progress(epochs: range, verbose: bool):
    if not verbose:
        return _Quiet(epochs)
    from tqdm.auto import tqdm

    return tqdm(epochs, desc="CellSpace", unit="epoch", initial=epochs.start, total=epochs.stop)


class _Quiet:
    def __init__(self, iterable):
        self._iterable = iterable

    def __iter__(self):
        return iter(self._iterable)

    def set_postfix(self, **_):
        pass


def _read_meta(dir_path: Path) -> dict:
    return read_config(dir_path, model="CellSpace", title="CellSpace", format_version=FORMAT_VERSION,
                       required=("config", "random_state", "epochs_done", "history"))


def _read_cells(dir_path: Path) -> pd.DataFrame:
    return read_table(dir_path, _CELLS_FILE, columns=("cell", "dataset"), sep="\t", dtype={"cell": str},
                      keep_default_na=False)


def _as_code_rows(sequences) -> list[np.ndarray]:
    if isinstance(sequences, str):
        raise SeqatacInputError("sequences must be a list of sequences; wrap a single one as [sequence].")
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2 and np.issubdtype(sequences.dtype, np.integer):
        return [row for row in sequences.astype(np.int8)]
    rows = []
    for sequence in sequences:
        if isinstance(sequence, (str, bytes)):
            rows.append(encode_sequence(sequence))
        else:
            rows.append(np.asarray(sequence, dtype=np.int8))
    return rows


def _pad_codes(rows: list[np.ndarray], k: int) -> np.ndarray:
    width = max([k, *(len(r) for r in rows)])
    block = np.full((len(rows), width), N_CODE, dtype=np.int8)
    for i, row in enumerate(rows):
        block[i, : len(row)] = row
    return block


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _resolve_motifs(motifs) -> list[Motif]:
    if motifs is None:
        return jaspar()
    if isinstance(motifs, (str, os.PathLike)):
        return read_motifs(motifs)
    motifs = list(motifs)
    if not motifs or not all(isinstance(m, Motif) for m in motifs):
        raise SeqatacInputError(
            "motifs must be a list of seqatac.data.Motif, a motif file path, or None for JASPAR; got "
            f"{type(motifs[0]).__name__ if motifs else 'an empty list'}."
        )
    return motifs
