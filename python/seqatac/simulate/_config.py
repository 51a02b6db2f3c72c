"""Simulation parameters: :class:`SimulationConfig`, its presets, the default TF panel and shared constants."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .._errors import SeqatacInputError
from .._utils import is_finite_number, is_whole

FORMAT_VERSION = 1

#: JASPAR2024 CORE vertebrate matrix ids of the default TF panel (well-known, mutually dissimilar motifs,
#: all >= 8 bp; names are the JASPAR names, which are also the RNA gene names).
MOTIF_IDS = {
    "CEBPA": "MA0102.5", "EBF1": "MA0154.5", "IRF4": "MA1419.2", "HNF4A": "MA1494.2",
    "FOXA2": "MA0047.4", "MEF2C": "MA0497.2", "NFE2": "MA0841.2", "TP63": "MA0525.2",
    "RFX2": "MA0600.3", "NR3C1": "MA0113.4", "TEAD1": "MA0090.4", "MITF": "MA0620.4",
    "REST": "MA0138.3", "GFI1": "MA0038.3", "BCL6": "MA0463.3", "CTCF": "MA0139.2",
}  # fmt: skip

_MAX_MOTIF_LENGTH = 20  # planting slots fit motifs up to this length (REST, the longest default, is 20 bp)


@dataclass(frozen=True)
class SimulationConfig:
    """All parameters of :func:`simulate_atac` (defaults = the ``small`` preset).

    Sizes: ``n_cells``, ``n_peaks``, ``n_cell_types``, ``n_batches``, ``n_chromosomes``, ``peak_width``,
    ``min_gap`` and ``mean_gap`` (bp between peaks), ``edge_flank`` (bp before the first/after the last peak).
    Composition: ``background_gc``, ``peak_gc_mean``, ``peak_gc_sd``. Motifs: ``jaspar_release``,
    ``activators``, ``repressors``, ``constitutive_tf`` (names; :data:`MOTIF_IDS` or looked up by name),
    ``n_secondary_activators``, ``motif_window`` (central bp holding the sites). Peak classes:
    ``frac_constitutive``, ``frac_noise`` (the rest are specific), ``p_second_tf``, ``p_second_instance``,
    ``frac_repressed``. Activities (logit units per unit motif strength): ``activity_primary``,
    ``activity_secondary``, ``activity_repressor`` (negative), ``activity_constitutive``,
    ``activity_noise_sd``. Biases: ``bias_specific``, ``bias_constitutive``, ``bias_noise``, ``bias_sd``.
    Cells: ``type_concentration`` (Dirichlet of type proportions), ``n_trajectories``,
    ``frac_trajectory_cells``, ``depth_mean``, ``depth_sd``, ``p_max`` (cap on p). Batches:
    ``batch_depth_shift``, ``batch_gc_effect``, ``batch_kmer_effect``, ``batch_kmer_length``. RNA: ``rna``,
    ``n_genes``, ``mean_extra_links``, ``link_upstream``, ``rna_depth``, ``rna_depth_sd``,
    ``rna_batch_shift``, ``rna_link_effect``, ``rna_tf_effect``, ``rna_accessibility_offset``,
    ``rna_dispersion``. Truth and speed: ``n_truth_cells``, ``n_truth_peaks``, ``chunk_size`` (cells per
    chunk; part of the random draw).
    """

    n_cells: int = 2000
    n_peaks: int = 5000
    n_cell_types: int = 6
    n_batches: int = 2
    n_chromosomes: int = 4
    peak_width: int = 500
    min_gap: int = 300
    mean_gap: int = 1500
    edge_flank: int = 2000
    background_gc: float = 0.40
    peak_gc_mean: float = 0.47
    peak_gc_sd: float = 0.05
    jaspar_release: str = "JASPAR2024"
    activators: tuple[str, ...] = (
        "CEBPA", "EBF1", "IRF4", "HNF4A", "FOXA2", "MEF2C", "NFE2", "TP63", "RFX2", "NR3C1", "TEAD1", "MITF",
    )  # fmt: skip
    repressors: tuple[str, ...] = ("REST", "GFI1", "BCL6")
    constitutive_tf: str = "CTCF"
    n_secondary_activators: int = 1
    motif_window: int = 200
    frac_constitutive: float = 0.08
    frac_noise: float = 0.25
    p_second_tf: float = 0.3
    p_second_instance: float = 0.3
    frac_repressed: float = 0.3
    activity_primary: float = 1.65
    activity_secondary: float = 0.9
    activity_repressor: float = -1.5
    activity_constitutive: float = 3.0
    activity_noise_sd: float = 0.3
    bias_specific: float = 0.0
    bias_constitutive: float = 1.0
    bias_noise: float = 0.5
    bias_sd: float = 0.5
    type_concentration: float = 20.0
    n_trajectories: int = 1
    frac_trajectory_cells: float = 0.15
    depth_mean: float = -4.9
    depth_sd: float = 0.4
    p_max: float = 0.995
    batch_depth_shift: float = 0.3
    batch_gc_effect: float = 0.3
    batch_kmer_effect: float = 0.15
    batch_kmer_length: int = 4
    rna: bool = True
    n_genes: int = 1500
    mean_extra_links: float = 2.0
    link_upstream: int = 20_000
    rna_depth: float = 3000.0
    rna_depth_sd: float = 0.3
    rna_batch_shift: float = 0.2
    rna_link_effect: float = 3.0
    rna_tf_effect: float = 2.5
    rna_accessibility_offset: float = -2.0
    rna_dispersion: float = 5.0
    n_truth_cells: int = 200
    n_truth_peaks: int = 1000
    chunk_size: int = 1000

    @classmethod
    def from_preset(cls, preset: str = "small", **overrides) -> "SimulationConfig":
        """The config of a preset (``tiny``, ``small``, ``medium``, ``large``) with fields replaced by ``overrides``."""
        if preset not in PRESETS:
            raise SeqatacInputError(f"unknown simulation preset {preset!r}; choose one of {', '.join(PRESETS)}.")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise SeqatacInputError(
                f"unknown simulation parameter(s) {', '.join(map(repr, unknown))}; valid names are the fields of "
                f"SimulationConfig: {', '.join(sorted(names))}."
            )
        return cls(**{**PRESETS[preset], **overrides})

    def __post_init__(self):
        for key in ("activators", "repressors"):
            names = getattr(self, key)
            if isinstance(names, str) or not all(isinstance(name, str) for name in names):
                raise SeqatacInputError(f"invalid simulation config: {key} = {names!r}; give a list of TF names, "
                                        f'e.g. {key}=["GATA1", "SPI1"].')
            object.__setattr__(self, key, tuple(names))
        self._check_value_types()
        self.validate()

    def _check_value_types(self) -> None:
        """Each value has its default's kind: whole numbers for counts, finite numbers, strings, booleans."""
        for field in dataclasses.fields(self):
            value, default = getattr(self, field.name), field.default
            if isinstance(default, bool):
                ok, kind = isinstance(value, bool), "true or false"
            elif isinstance(default, int):
                ok, kind = is_whole(value), "a whole number"
            elif isinstance(default, float):
                ok, kind = is_finite_number(value), "a finite number"
            elif isinstance(default, str):
                ok, kind = isinstance(value, str), "a string"
            else:
                continue
            if not ok:
                raise SeqatacInputError(f"invalid simulation config: {field.name} = {value!r}; it must be {kind}.")

    def validate(self) -> None:
        """Raise :class:`SeqatacInputError` for inconsistent parameters."""

        def fail(problem, fix):
            raise SeqatacInputError(f"invalid simulation config: {problem}; {fix}.")

        for name in ("n_cells", "n_peaks", "n_cell_types", "n_batches", "n_chromosomes", "chunk_size"):
            if getattr(self, name) < 1:
                fail(f"{name} = {getattr(self, name)}", f"set {name} >= 1")
        if self.n_cell_types > len(self.activators):
            fail(
                f"{self.n_cell_types} cell types but only {len(self.activators)} activators",
                "each type needs its own primary driver: lower n_cell_types or add activators",
            )
        if self.n_cell_types > 1 and not 0 <= self.n_secondary_activators < self.n_cell_types:
            fail(f"n_secondary_activators = {self.n_secondary_activators}", "use 0 .. n_cell_types - 1")
        if not self.repressors:
            fail("no repressors", "give at least one repressor TF")
        if self.frac_constitutive + self.frac_noise > 1 or min(self.frac_constitutive, self.frac_noise) < 0:
            fail("frac_constitutive + frac_noise must lie in [0, 1]", "lower them")
        slots = self.motif_window // (_MAX_MOTIF_LENGTH + 2)
        if self.motif_window > self.peak_width or slots < 5:
            fail(
                f"motif_window = {self.motif_window} with peak_width = {self.peak_width}",
                f"use motif_window <= peak_width and >= {5 * (_MAX_MOTIF_LENGTH + 2)} bp",
            )
        if self.rna and self.n_genes + len(self._panel) > self.n_peaks:
            fail(f"{self.n_genes} genes + {len(self._panel)} TF genes exceed {self.n_peaks} peaks", "lower n_genes")
        if self.n_trajectories and self.n_cell_types < 2:
            fail("trajectories need at least 2 cell types", "set n_trajectories = 0")
        if not 0 < self.p_max < 1:
            fail(f"p_max = {self.p_max}", "use a value in (0, 1)")

    @property
    def _panel(self) -> list[str]:
        return [*self.activators, *self.repressors, self.constitutive_tf]


#: Preset overrides of the :class:`SimulationConfig` defaults (which are ``small``).
PRESETS: dict[str, dict] = {
    "tiny": dict(
        n_cells=300, n_peaks=1000, n_cell_types=4, n_chromosomes=2, n_genes=150, n_truth_cells=50,
        n_truth_peaks=200, frac_trajectory_cells=0.1,
    ),
    "small": {},
    "medium": dict(n_cells=10_000, n_peaks=30_000, n_cell_types=8, n_chromosomes=8, n_genes=3000),
    "large": dict(
        n_cells=100_000, n_peaks=50_000, n_cell_types=10, n_batches=3, n_chromosomes=10, rna=False,
        depth_mean=-5.6, n_trajectories=2, chunk_size=400,
    ),
}  # fmt: skip


def _type_name(index: int) -> str:
    """Name of cell type ``index`` (``ct0``, ``ct1``, …)."""
    return f"ct{index}"
