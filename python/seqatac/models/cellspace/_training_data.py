"""CellSpace's training data (event sequences, open cells, k-mer counts) and its example stream."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from anndata import AnnData

from ... import _keys
from ..._errors import SeqatacInputError, SeqatacWarning
from ...data import Genome, parse_regions
from .._targets import PeakTargets
from ._config import CellSpaceConfig
from ._kmers import EventSequences, feature_layout, window_features

logger = logging.getLogger(__name__)

_SETUP_KEY = "cellspace_setup"


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
    genome.check_regions(regions)  # once for all: the batches below hold one region width each
    for width in np.unique(lengths):  # a centred window of the region's own width is the region
        rows = np.flatnonzero(lengths == width)
        done = 0
        for codes in genome.iter_encoded(regions.iloc[rows], width=int(width), batch_size=1 << 16,
                                         check=False):
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
