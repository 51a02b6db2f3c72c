"""How much each method of the demo trains, per simulator preset (sized for a 2-core CPU).

``small`` is the front door: every model runs long enough to show what it does, in 6 min 8 s on two
idle cores (6 min 51 s beside a test run, load ~2). ``tiny`` runs the whole pipeline with a few steps
of each model in ~15 s (the test). ``medium`` is for a bigger machine and was not timed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .._errors import SeqatacInputError


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of every stage of :func:`~seqatac.demo.run_demo`.

    Attributes
    ----------
    cellspace_peaks
        CellSpace trains on this many variable peaks (``seqatac.tl.variable_peaks`` over LSI clusters, the
        authors' workflow); None: all peaks.
    cellspace_epochs, cellspace_params
        Epochs and :class:`~seqatac.models.cellspace.CellSpaceConfig` fields other than the authors' defaults.
        For the same number of examples, fewer variable peaks trained longer embed better (``small``, label
        score k 50: 1,500 peaks × 30 epochs 0.70, 2,500 × 20 0.68, 5,000 × 10 0.60).
    leiden_resolution, min_cluster_cells
        Leiden clusters of the CellSpace graph (small clusters merged), the groups of the de novo motifs.
    denovo_top_kmers
        10-mers kept per cluster for de novo motifs (``seqatac.tl.denovo_motifs(top_kmers=)``).
    epifoundation_architecture, epifoundation_training
        :class:`~seqatac.models.EpiFoundation` preset/architecture (CPU-sized) and training options other
        than the engine's defaults (none: the demo trains as a user who sets nothing would).
    pretrain_epochs, annotate_epochs, expression_epochs
        EpiFoundation epochs of pre-training (paired RNA), cell-type fine-tuning and expression fine-tuning.
        Annotation runs to the engine's default of at most 30 epochs, with early stopping (on ``small`` the
        held-out batch reached 0.943; 6 epochs are too few when the head warms up alone first).
    scbasset_architecture, scbasset_epochs, scbasset_batch_size
        A CPU-sized scBasset (the authors' network has 4.5 M parameters and needs hundreds of epochs). Batches
        of 32 peaks (the authors: 128) cost about the same per epoch here and move the cell embedding 4× as
        often: on ``small`` its label score left chance after ~20 epochs instead of ~40.
    scbasset_backgrounds
        Background sequences of scBasset's TF activity by motif insertion (the authors use 1,000).
    knn_neighbors
        k of the LSI + kNN label-transfer baseline.
    layout_iterations
        t-SNE iterations of the 2-D layouts (≥ 250).
    """

    cellspace_peaks: int | None = 2000
    cellspace_epochs: int = 25
    cellspace_params: dict = field(default_factory=dict)
    leiden_resolution: float = 0.8
    min_cluster_cells: int = 50
    denovo_top_kmers: int = 30
    epifoundation_architecture: dict = field(default_factory=lambda: dict(
        preset="small", d_model=64, n_layers=2, n_heads=4, d_ff=128, max_len=512, max_genes=2048, dropout=0.1,
        decoder="inner_product"))
    epifoundation_training: dict = field(default_factory=dict)
    pretrain_epochs: int = 2
    annotate_epochs: int = 30
    expression_epochs: int = 3
    scbasset_architecture: dict = field(default_factory=lambda: dict(
        seq_len=512, n_filters_init=64, n_tower_layers=4, n_filters_pre_bottleneck=128, bottleneck_size=32))
    scbasset_epochs: int = 25
    scbasset_batch_size: int = 32
    scbasset_backgrounds: int = 300
    knn_neighbors: int = 15
    layout_iterations: int = 400

    def replace(self, **overrides) -> DemoSettings:
        """A copy with some fields changed (unknown names are an error naming the valid ones)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise SeqatacInputError(f"unknown demo setting(s) {unknown}; valid settings are {sorted(names)}.")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict:
        """The settings as plain JSON-able values."""
        return dataclasses.asdict(self)


PRESETS: dict[str, DemoSettings] = {
    "tiny": DemoSettings(
        cellspace_peaks=None, cellspace_epochs=2, cellspace_params=dict(examples_per_event=5),
        min_cluster_cells=20, denovo_top_kmers=20,
        epifoundation_architecture=dict(preset="tiny", decoder="inner_product"),
        epifoundation_training=dict(max_tokens=8192),
        pretrain_epochs=1, annotate_epochs=2, expression_epochs=1,
        scbasset_architecture=dict(seq_len=200, n_filters_init=16, stem_kernel_size=9, n_tower_layers=2,
                                   filters_mult=1.25, n_filters_pre_bottleneck=16, bottleneck_size=8),
        scbasset_epochs=2, scbasset_batch_size=64, scbasset_backgrounds=20, layout_iterations=250,
    ),
    "small": DemoSettings(),
    "medium": DemoSettings(
        cellspace_peaks=10_000, cellspace_epochs=30, min_cluster_cells=100, pretrain_epochs=1, annotate_epochs=30,
        expression_epochs=4, scbasset_epochs=40, scbasset_backgrounds=500,
        epifoundation_architecture=dict(preset="small", d_model=64, n_layers=2, n_heads=4, d_ff=128, max_len=512,
                                        max_genes=4096, dropout=0.1, decoder="inner_product"),
    ),
}


def demo_settings(preset: str, overrides: dict | None = None) -> DemoSettings:
    """The settings of ``preset`` with ``overrides`` applied."""
    if preset not in PRESETS:
        raise SeqatacInputError(f"the demo has no preset {preset!r}; choose one of {list(PRESETS)}.")
    return PRESETS[preset].replace(**(overrides or {}))
