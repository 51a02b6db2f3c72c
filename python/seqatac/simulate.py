"""Ground-truth scATAC-seq simulator (``seqatac.simulate``, ``seqatac simulate``).

Everything comes from one seed: a genome, peaks with planted JASPAR motifs, cells of ``K`` types (some on
continuous trajectories between two types) in ``B`` batches, a sparse cells × peaks count matrix and,
optionally, paired RNA. The truth is saved with the data so that every model can be scored against it.

Model
-----
*Genome.* Background from a 2nd-order Markov chain with human-like composition (hard-coded strand-symmetric
dinucleotide frequencies of the human genome, CpG observed/expected ≈ 0.24, a mild poly-A/poly-G trinucleotide
excess; GC tilted to ``background_gc``). Chromosomes ``chr1``, ``chr2``, … (decreasing sizes) hold
non-overlapping peaks of ``peak_width`` bp separated by gaps of ``min_gap`` + Exponential(``mean_gap``) bp.
Peaks are GC-richer than background: each peak is drawn from the same chain tilted to its own GC level
(Normal(``peak_gc_mean``, ``peak_gc_sd``)). Chains run many in parallel with NumPy.

*Motifs and programs.* Real JASPAR motifs (``jaspar_release``, CORE vertebrates; default panel
:data:`MOTIF_IDS`). Each cell type has a primary driver activator (distinct per type, activity
``activity_primary``), ``n_secondary_activators`` secondary activators (``activity_secondary``: the primary
drivers of the next types on a random cycle of the types, so related types share activators) and one
repressor (``activity_repressor`` < 0, repressors dealt round-robin); the constitutive TF (CTCF) has
``activity_constitutive`` everywhere. Peak classes: ``specific`` peaks carry 1–2 activator motifs (1–2 instances each) and, with
probability ``frac_repressed``, one repressor instance; ``constitutive`` peaks carry 1–2 CTCF instances and a
higher bias; ``noise`` peaks carry no motif. Instances are sampled from the PFM (one base per column), on a
random strand, in non-overlapping slots within ``motif_window`` bp of the peak centre.
``motif_strength(peak, TF)`` = Σ over the TF's instances of the relative PWM score (log2-odds of the
planted site / best possible score, clipped at 0). Random background matches carry no strength.

*Accessibility.* ``p(cell, peak) = sigmoid(depth_cell + Σ_TF activity(cell, TF) · motif_strength(peak, TF)
+ peak_bias + batch_effect(batch, peak))`` with ``depth_cell = depth_mean + batch depth shift +
Normal(0, depth_sd)`` and ``batch_effect(b, peak) = batch_gc_effect · c_b · z(GC_peak) + batch_kmer_effect ·
z(count of batch b's k-mer in the peak, both strands)``, ``c_b`` evenly spaced in [-1, 1]; each batch's
``batch_kmer_length``-mer is half G/C and CpG-free, so the k-mer effect is not a second GC effect. Cell types
are drawn with Dirichlet(``type_concentration``) proportions; a fraction ``frac_trajectory_cells`` of cells
sit on ``n_trajectories`` trajectories between two types at a uniform pseudotime ``t``. TF activity is the
program mean (``(1 - t)·start + t·end`` on a trajectory) plus Normal(0, ``activity_noise_sd``) for TFs
whose activity differs between programs; repressors have negative activity where active. Counts: a peak is non-zero
with probability ``p``; a non-zero count is zero-truncated Poisson with rate ``-log(1 - p)`` (so counts
are Poisson(-log(1 - p)) overall). The matrix is built in chunks of ``chunk_size`` cells, never dense.

*Paired RNA* (``rna=True``). One gene per TF of the panel (named after it) plus ``n_genes`` other genes,
each with its TSS within 50 bp of a distinct promoter peak. Gene ``g`` is linked to its promoter peak
(weight 1) and to ~``mean_extra_links`` peaks in its body or up to ``link_upstream`` bp upstream (weights
Uniform(0.3, 1)). ``log μ(cell, g) = log(library) + base_g + rna_link_effect · Σ_l w_l π(cell, l) / Σ_l w_l``
with the depth- and batch-free accessibility ``π = sigmoid(Σ_TF activity · motif_strength + peak_bias +
rna_accessibility_offset)``; TF genes instead get ``rna_tf_effect · sign · activity / max|program activity|``
with sign +1 for activators and −1 for repressors (so repressor expression is anti-correlated with its
activity). Counts are negative binomial (Gamma–Poisson, dispersion ``rna_dispersion``).

Outputs
-------
``atac`` (AnnData cells × peaks, float32 CSR counts):

- ``obs``: ``cell_type``, ``batch``, ``trajectory`` (``"ctA->ctB"`` or ``"none"``), ``pseudotime``
  (position in [0, 1] along the trajectory, NaN off trajectories; trajectory cells are labelled with the
  nearer end type), ``depth`` (true depth term, logit units), ``total_counts``, ``n_open_peaks``;
- ``var`` (index ``chrom:start-end``): ``chrom``, ``start``, ``end`` (0-based half-open), ``gc``,
  ``peak_class`` (``specific``/``constitutive``/``noise``), ``bias`` (true peak bias), ``n_motifs``;
- ``obsm["true_tf_activity"]``: DataFrame cells × TFs of the true activity;
- ``varm["true_motif_strength"]``: DataFrame peaks × TFs of the true motif strength;
- ``uns["simulation"]``: the truth dictionary below.

``rna`` (AnnData cells × genes, float32 CSR counts, same ``obs_names`` and obs columns): ``var`` has
``chrom``, ``start``, ``end``, ``strand``, ``tss``, ``is_tf``, ``promoter_peak``.

Truth keys (``atac.uns["simulation"]``, ``Simulation.truth``, ``truth.json``)
-----------------------------------------------------------------------------
Everything survives ``write_h5ad``/``read_h5ad`` (arrays, DataFrames, strings, dicts of those). In
``truth.json`` arrays are lists (NaN -> null) and DataFrames are ``{"index": [...], "columns": {name: [...]}}``.

``format_version``
    int, 1.
``seed``
    int, the seed everything was drawn from.
``preset``
    str, the preset the config started from.
``config``
    str, JSON of the full :class:`SimulationConfig`.
``cell_types``, ``batches``
    arrays of the category names (per-cell labels are ``obs["cell_type"]``/``obs["batch"]``; they are
    also copied here as ``cell_type`` and ``batch`` arrays, with ``pseudotime``, in obs order).
``tfs``
    DataFrame, one row per TF of the panel: ``tf``, ``motif_id``, ``motif_name`` (JASPAR), ``role``
    (``activator``/``repressor``/``constitutive``), ``used`` (whether any program uses it).
``activators``, ``repressors``
    arrays of TF names (the panel's, used or not).
``drivers``
    dict cell type -> array of activating TF names, primary driver first.
``repressor_of_type``
    dict cell type -> the repressor active in that type.
``programs``
    DataFrame cell types × TFs of the mean TF activity.
``tf_names``, ``tf_activity``
    TF names and the ``(n_cells, n_tfs)`` float32 true activity (same as ``obsm["true_tf_activity"]``).
``motif_instances``
    DataFrame, one row per planted site: ``peak`` (index), ``peak_name``, ``tf``, ``motif_id``, ``start``,
    ``end`` (0-based, within the peak), ``strand``, ``weight`` (relative PWM score), ``sequence`` (as
    written on the + strand of the genome).
``trajectories``
    DataFrame: ``name``, ``from``, ``to``, ``n_cells``.
``batch_effect``
    dict: ``effect`` ``(n_batches, n_peaks)`` float32 logit shift, ``gc_coefficient`` and
    ``depth_shift`` ``(n_batches,)``, ``kmer`` (one k-mer per batch) and ``kmer_coefficient``.
``p_sample``
    dict: ``cell_index`` ``(n,)``, ``peak_index`` ``(m,)``, ``p`` ``(n, m)`` float32 true non-zero probability.
``gene_peak_links``
    DataFrame (RNA only): ``gene``, ``peak`` (index), ``peak_name``, ``weight``, ``distance`` (peak centre −
    TSS, signed along the gene's strand), ``is_promoter``.
``summary``
    dict: ``n_cells``, ``n_peaks``, ``n_nonzero``, ``density``, ``median_open_peaks``,
    ``open_peaks_p5``/``_p95``, ``mean_count_nonzero``, ``genome_gc``, ``genome_cpg_oe``, ``n_genes``.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from . import _keys
from ._errors import SeqatacInputError
from ._utils import atomic_path, write_h5ad
from .data import (
    Genome,
    Motif,
    decode_sequence,
    gc_content,
    jaspar,
    reverse_complement,
    write_fasta,
)

logger = logging.getLogger(__name__)

__all__ = ["SimulationConfig", "Simulation", "PRESETS", "MOTIF_IDS", "simulate_atac", "write_simulation"]

FORMAT_VERSION = 1

#: JASPAR2024 CORE vertebrate matrix ids of the default TF panel (well-known, mutually dissimilar motifs,
#: all >= 8 bp; names are the JASPAR names, which are also the RNA gene names).
MOTIF_IDS = {
    "CEBPA": "MA0102.5", "EBF1": "MA0154.5", "IRF4": "MA1419.2", "HNF4A": "MA1494.2",
    "FOXA2": "MA0047.4", "MEF2C": "MA0497.2", "NFE2": "MA0841.2", "TP63": "MA0525.2",
    "RFX2": "MA0600.3", "NR3C1": "MA0113.4", "TEAD1": "MA0090.4", "MITF": "MA0620.4",
    "REST": "MA0138.3", "GFI1": "MA0038.3", "BCL6": "MA0463.3", "CTCF": "MA0139.2",
}  # fmt: skip

# Strand-symmetric human dinucleotide frequencies (%, rows = first base A,C,G,T): GC 0.41, CpG o/e 0.24.
_HUMAN_DINUCLEOTIDES = np.array(
    [
        [9.73, 5.03, 6.99, 7.56],
        [7.28, 5.21, 0.99, 6.99],
        [5.93, 4.26, 5.21, 5.03],
        [6.56, 5.93, 7.28, 9.73],
    ]
)
# Trinucleotides over-represented relative to the dinucleotide chain (homopolymer runs).
_TRINUCLEOTIDE_EXCESS = {"AAA": 1.25, "TTT": 1.25, "CCC": 1.1, "GGG": 1.1}
_RESOLUTION = 1 << 16  # Markov draws: probabilities resolved to 1/65536
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
            object.__setattr__(self, key, tuple(getattr(self, key)))
        self.validate()

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


@dataclass
class Simulation:
    """A simulated dataset.

    Attributes
    ----------
    atac
        Cells × peaks AnnData (float32 CSR counts) with the truth in ``uns["simulation"]``.
    rna
        Paired cells × genes AnnData (same ``obs_names``), or None.
    genome
        In-memory :class:`~seqatac.data._genome.Genome` holding the peaks.
    truth
        The ground-truth dictionary (the same object as ``atac.uns["simulation"]``).
    """

    atac: AnnData
    rna: AnnData | None
    genome: Genome
    truth: dict

    @property
    def config(self) -> SimulationConfig:
        """The :class:`SimulationConfig` the data were drawn with."""
        return SimulationConfig(**json.loads(self.truth["config"]))


# ============================================================================================ entry points


def simulate_atac(preset: str = "small", *, random_state=0, rna: bool | None = None, **overrides) -> Simulation:
    """Simulate a scATAC-seq dataset (optionally with paired RNA) with known ground truth.

    Parameters
    ----------
    preset
        ``"tiny"`` (~300 cells × 1,000 peaks, tests), ``"small"`` (2,000 × 5,000, demo, paired RNA),
        ``"medium"`` (10,000 × 30,000, benchmarks) or ``"large"`` (100,000 × 50,000, scaling).
    random_state
        Seed (int); a ``numpy.random.Generator`` or None draws one, which is recorded in the truth.
    rna
        Simulate paired RNA; None keeps the preset's choice.
    **overrides
        Replace :class:`SimulationConfig` fields; unknown names raise :class:`~seqatac.SeqatacInputError`.

    Returns
    -------
    :class:`Simulation` with ``atac`` (cells × peaks), ``rna`` (cells × genes or None), ``genome`` and
    ``truth``; see the module docstring for every column and key.
    """
    if rna is not None:
        overrides["rna"] = bool(rna)
    config = SimulationConfig.from_preset(preset, **overrides)
    seed = _resolve_seed(random_state)
    rng_genome, rng_design, rng_cells, rng_counts, rng_rna, rng_truth = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)
    )
    logger.info("simulating %s: %d cells × %d peaks (seed %d)", preset, config.n_cells, config.n_peaks, seed)

    motifs = _load_motifs(config)
    tf_names = list(motifs)
    programs, drivers, repressor_of_type = _draw_programs(config, tf_names, rng_design)
    peaks, chrom_sizes = _layout_peaks(config, rng_design)
    peak_codes, instances, strength = _peak_sequences(config, peaks, motifs, programs, rng_genome, rng_design)
    genome_codes = _assemble_genome(config, peaks, chrom_sizes, peak_codes, rng_genome)
    peaks["gc"] = gc_content(peak_codes)
    peaks["bias"] = _peak_bias(config, peaks["peak_class"].to_numpy(), rng_design)
    peaks["n_motifs"] = np.bincount(instances["peak"].to_numpy(), minlength=len(peaks))
    batch_effect = _batch_effect(config, peak_codes, peaks["gc"].to_numpy(), rng_design)
    cells, activity = _draw_cells(config, programs, batch_effect["depth_shift"], rng_cells)

    # logits = design (cells × terms) @ weights (terms × peaks): one GEMM per chunk of cells
    weights = np.vstack(
        [strength, np.ones((1, len(peaks))), peaks["bias"].to_numpy()[None], batch_effect["effect"]]
    ).astype(np.float32)
    batch_onehot = np.eye(config.n_batches, dtype=np.float32)[cells["batch"].cat.codes.to_numpy()]
    design = np.hstack(
        [activity, cells["depth"].to_numpy()[:, None], np.ones((config.n_cells, 1)), batch_onehot]
    ).astype(np.float32)
    counts = _sample_counts(design, weights, config, rng_counts)

    cells["total_counts"] = np.asarray(counts.sum(axis=1)).ravel()
    cells["n_open_peaks"] = np.diff(counts.indptr)
    atac = AnnData(X=counts, obs=cells, var=peaks)
    atac.obsm[_keys.TRUE_TF_ACTIVITY_OBSM] = pd.DataFrame(activity, index=cells.index, columns=tf_names)
    atac.varm[_keys.TRUE_MOTIF_STRENGTH_VARM] = pd.DataFrame(strength.T, index=peaks.index, columns=tf_names)

    rna_adata, links = None, None
    if config.rna:
        rna_adata, links = _simulate_rna(
            config, peaks, chrom_sizes, cells, activity, strength, programs, tf_names, rng_rna
        )

    genome_dict = {chrom: decode_sequence(codes) for chrom, codes in genome_codes.items()}
    truth = _truth(
        config, preset, seed, atac, motifs, programs, drivers, repressor_of_type, instances, batch_effect,
        design, weights, links, genome_codes, rna_adata, rng_truth,
    )
    atac.uns[_keys.SIMULATION_UNS] = truth
    logger.info(
        "simulated %d cells × %d peaks, density %.3f, median %d open peaks per cell",
        config.n_cells, config.n_peaks, truth["summary"]["density"], truth["summary"]["median_open_peaks"],
    )  # fmt: skip
    return Simulation(atac=atac, rna=rna_adata, genome=Genome.from_dict(genome_dict), truth=truth)


def write_simulation(sim: Simulation, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write a simulation to ``out_dir``, every file atomically; the same simulation gives identical bytes.

    Returns
    -------
    ``{"atac": atac.h5ad, "rna": rna.h5ad (if paired RNA), "genome": genome.fa, "genome_index": genome.fa.fai,
    "truth": truth.json}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"atac": out_dir / "atac.h5ad"}
    write_h5ad(sim.atac, paths["atac"])
    if sim.rna is not None:
        paths["rna"] = out_dir / "rna.h5ad"
        write_h5ad(sim.rna, paths["rna"])
    else:  # never leave another simulation's RNA beside this one's ATAC
        (out_dir / "rna.h5ad").unlink(missing_ok=True)
    paths["genome"] = write_fasta(sim.genome, out_dir / "genome.fa")
    paths["genome_index"] = out_dir / "genome.fa.fai"
    paths["truth"] = out_dir / "truth.json"
    with atomic_path(paths["truth"]) as tmp:
        tmp.write_text(json.dumps(_jsonable(sim.truth), indent=1, allow_nan=False) + "\n")
    return paths


# ============================================================================================ genome


def _markov_tables() -> np.ndarray:
    """``(4, 4, 4)`` P(z | x, y) of the human-like background chain."""
    dinuc = _HUMAN_DINUCLEOTIDES / _HUMAN_DINUCLEOTIDES.sum()
    mono = dinuc.sum(axis=1)
    tri = dinuc[:, :, None] * dinuc[None, :, :] / mono[None, :, None]
    for word, factor in _TRINUCLEOTIDE_EXCESS.items():
        tri["ACGT".index(word[0]), "ACGT".index(word[1]), "ACGT".index(word[2])] *= factor
    return tri / tri.sum(axis=2, keepdims=True)


def _tilt(table: np.ndarray, factor: float) -> np.ndarray:
    tilted = table.copy()
    tilted[:, :, 1:3] *= factor
    return tilted / tilted.sum(axis=2, keepdims=True)


def _stationary(table: np.ndarray) -> np.ndarray:
    """``(16,)`` stationary distribution of dinucleotide states ``4 x + y``."""
    transition = np.zeros((16, 16))
    for x in range(4):
        for y in range(4):
            transition[4 * x + y, 4 * y : 4 * y + 4] = table[x, y]
    dist = np.full(16, 1 / 16) @ np.linalg.matrix_power(transition, 1024)
    return dist / dist.sum()


@functools.lru_cache(maxsize=64)
def _chain_for_gc(gc: float) -> tuple[np.ndarray, np.ndarray]:
    """Transition table tilted to stationary GC ``gc`` (bisection on the tilt), and its stationary states."""
    base = _markov_tables()
    lo, hi = 0.05, 20.0
    for _ in range(50):
        mid = math.sqrt(lo * hi)
        dist = _stationary(_tilt(base, mid)).reshape(4, 4).sum(axis=0)
        lo, hi = (mid, hi) if dist[1] + dist[2] < gc else (lo, mid)
    table = _tilt(base, math.sqrt(lo * hi))
    return table, _stationary(table)


def _sample_markov(levels: np.ndarray, length: int, gc_levels: np.ndarray, rng) -> np.ndarray:
    """Run one chain per entry of ``levels`` (index into ``gc_levels``) for ``length`` steps, all in parallel.

    Each step draws one 16-bit integer per chain and reads the next base from an inverse-CDF lookup table
    per (GC level, dinucleotide state), so transition probabilities are resolved to 1/65536.

    Returns ``int8`` codes ``(n_chains, length)``.
    """
    used, levels = np.unique(levels, return_inverse=True)
    chains = [_chain_for_gc(float(gc_levels[i])) for i in used]
    grid = (np.arange(_RESOLUTION) + 0.5) / _RESOLUTION
    cdf = np.concatenate([np.cumsum(table, axis=2).reshape(16, 4) for table, _ in chains])
    lookup = np.concatenate([np.searchsorted(row[:3], grid, side="right").astype(np.int8) for row in cdf])
    start_cdf = np.stack([np.cumsum(states) for _, states in chains])
    n = len(levels)
    out = np.empty((length, n), dtype=np.int8)
    state = np.minimum((rng.random(n)[:, None] >= start_cdf[levels]).sum(axis=1), 15)
    out[0], out[1] = state // 4, state % 4
    offset = levels.astype(np.int64) * 16 * _RESOLUTION
    block = 64
    for t in range(2, length):
        if (t - 2) % block == 0:
            draws = rng.integers(0, _RESOLUTION, size=(min(block, length - t), n), dtype=np.uint16)
        base = lookup[offset + state * _RESOLUTION + draws[(t - 2) % block]]
        out[t] = base
        state = (state & 3) * 4 + base
    return np.ascontiguousarray(out.T)


def _layout_peaks(config: SimulationConfig, rng) -> tuple[pd.DataFrame, dict[str, int]]:
    """Place non-overlapping peaks on chromosomes (genomic order) and assign peak classes."""
    weights = np.linspace(1.0, 0.4, config.n_chromosomes)
    per_chrom = np.bincount(
        rng.choice(config.n_chromosomes, size=config.n_peaks, p=weights / weights.sum()), minlength=config.n_chromosomes
    )
    chroms, starts, chrom_sizes = [], [], {}
    for index, n in enumerate(per_chrom):
        name = f"chr{index + 1}"
        gaps = config.min_gap + np.round(rng.exponential(config.mean_gap, size=n)).astype(np.int64)
        gaps[:1] = config.edge_flank
        begin = np.cumsum(gaps + config.peak_width) - config.peak_width
        chroms += [name] * n
        starts.append(begin)
        chrom_sizes[name] = int((begin[-1] + config.peak_width if n else config.edge_flank) + config.edge_flank)
    start = np.concatenate(starts)
    end = start + config.peak_width
    names = [f"{c}:{s}-{e}" for c, s, e in zip(chroms, start, end)]
    classes = np.full(config.n_peaks, "specific", dtype=object)
    draw = rng.random(config.n_peaks)
    classes[draw < config.frac_constitutive] = "constitutive"
    classes[(draw >= config.frac_constitutive) & (draw < config.frac_constitutive + config.frac_noise)] = "noise"
    peaks = pd.DataFrame(
        {
            _keys.CHROM: pd.Categorical(chroms, categories=list(chrom_sizes)),
            _keys.START: start,
            _keys.END: end,
            "peak_class": pd.Categorical(classes, categories=["specific", "constitutive", "noise"]),
        },
        index=pd.Index(names, name=None),
    )
    return peaks, chrom_sizes


def _assemble_genome(config, peaks, chrom_sizes, peak_codes, rng) -> dict[str, np.ndarray]:
    """Background chains over each chromosome, then the peak sequences written over their intervals."""
    chain_length = 4096
    total = sum(chrom_sizes.values())
    n_chains = -(-total // chain_length)
    background = _sample_markov(
        np.zeros(n_chains, dtype=np.int64), chain_length, np.array([config.background_gc]), rng
    ).ravel()
    genome, offset = {}, 0
    chrom_of_peak = peaks[_keys.CHROM].to_numpy()
    starts = peaks[_keys.START].to_numpy()
    for name, size in chrom_sizes.items():
        codes = background[offset : offset + size].copy()
        offset += size
        on_chrom = np.flatnonzero(chrom_of_peak == name)
        if on_chrom.size:
            positions = starts[on_chrom][:, None] + np.arange(config.peak_width)
            codes[positions] = peak_codes[on_chrom]
        genome[name] = codes
    return genome


def _composition(genome_codes: dict[str, np.ndarray]) -> tuple[float, float]:
    """Genome GC fraction and CpG observed/expected (CpG frequency / (C frequency · G frequency))."""
    n = sum(codes.size for codes in genome_codes.values())
    c = sum(np.count_nonzero(codes == 1) for codes in genome_codes.values()) / n
    g = sum(np.count_nonzero(codes == 2) for codes in genome_codes.values()) / n
    cpg = sum(np.count_nonzero((codes[:-1] == 1) & (codes[1:] == 2)) for codes in genome_codes.values())
    return float(c + g), float(cpg / (n - len(genome_codes)) / (c * g))


# ============================================================================================ motifs, peaks


def _load_motifs(config: SimulationConfig) -> dict[str, Motif]:
    """TF name -> Motif for the panel (activators, repressors, constitutive TF), in that order."""
    panel = config._panel
    if len(set(panel)) != len(panel):
        raise SeqatacInputError(f"the TF panel repeats a name: {panel}; list each TF once.")
    known = [name for name in panel if name in MOTIF_IDS]
    by_id = {m.id: m for m in jaspar(config.jaspar_release, ids=[MOTIF_IDS[n] for n in known])} if known else {}
    others = [name for name in panel if name not in MOTIF_IDS]
    by_name = {}
    for motif in jaspar(config.jaspar_release, names=others) if others else []:
        by_name.setdefault(motif.name.upper(), motif)
    motifs = {}
    for name in panel:
        motif = by_id.get(MOTIF_IDS.get(name)) if name in MOTIF_IDS else by_name.get(name.upper())
        if motif is None:
            raise SeqatacInputError(f"no {config.jaspar_release} motif for TF {name!r}; use a JASPAR TF name.")
        if motif.length > _MAX_MOTIF_LENGTH:
            raise SeqatacInputError(
                f"motif {motif.id} ({name}) is {motif.length} bp, longer than the {_MAX_MOTIF_LENGTH} bp "
                "the simulator plants; choose a shorter motif for that TF."
            )
        motifs[name] = motif
    return motifs


def _draw_programs(config: SimulationConfig, tf_names: list[str], rng):
    """Mean TF activity per cell type ``(K, T)``, driver lists and the repressor of each type."""
    k, index = config.n_cell_types, {name: i for i, name in enumerate(tf_names)}
    primaries = rng.permutation(np.array(config.activators))[:k]
    repressor_order = rng.permutation(np.array(config.repressors))
    cycle = rng.permutation(k)  # type cycle[i]'s secondaries are the primaries of the next types in the cycle
    position = np.argsort(cycle)
    programs = np.zeros((k, len(tf_names)))
    drivers, repressor_of_type = {}, {}
    for t in range(k):
        secondaries = [primaries[cycle[(position[t] + j) % k]] for j in range(1, config.n_secondary_activators + 1)]
        programs[t, index[primaries[t]]] = config.activity_primary
        for tf in secondaries:
            programs[t, index[tf]] = config.activity_secondary
        repressor = repressor_order[t % len(repressor_order)]
        programs[t, index[repressor]] = config.activity_repressor
        programs[t, index[config.constitutive_tf]] = config.activity_constitutive
        drivers[_type_name(t)] = [str(primaries[t]), *map(str, secondaries)]
        repressor_of_type[_type_name(t)] = str(repressor)
    return programs, drivers, repressor_of_type


def _type_name(index: int) -> str:
    return f"ct{index}"


def _peak_sequences(config, peaks, motifs, programs, rng_genome, rng_design):
    """Peak sequences ``(P, W)`` drawn at per-peak GC levels, with motif instances planted near the centre.

    Returns the codes, the instance table and the motif strength ``(T, P)``.
    """
    n, width = len(peaks), config.peak_width
    tf_names = list(motifs)
    grid = np.round(np.arange(0.30, 0.661, 0.02), 2)
    target = np.clip(rng_design.normal(config.peak_gc_mean, config.peak_gc_sd, size=n), grid[0], grid[-1])
    levels = np.abs(target[:, None] - grid[None]).argmin(axis=1)
    codes = _sample_markov(levels, width, grid, rng_genome)

    # which TF instances each peak carries
    peak_class = peaks["peak_class"].to_numpy()
    used = np.flatnonzero(programs.max(axis=0) > 0)
    activators = np.array([i for i in used if tf_names[i] in config.activators])
    repressors = np.array([tf_names.index(r) for r in config.repressors if programs[:, tf_names.index(r)].min() < 0])
    specific = np.flatnonzero(peak_class == "specific")
    constitutive = np.flatnonzero(peak_class == "constitutive")
    first = rng_design.choice(activators, size=specific.size)
    has_second = (rng_design.random(specific.size) < config.p_second_tf) & (activators.size > 1)
    shift = rng_design.integers(1, max(activators.size, 2), size=specific.size)
    position_of = np.searchsorted(activators, first)
    second = activators[(position_of + shift) % activators.size]
    has_repressor = rng_design.random(specific.size) < config.frac_repressed
    repressor = rng_design.choice(repressors, size=specific.size)
    ctcf = tf_names.index(config.constitutive_tf)
    groups = [
        (specific, first),
        (specific[has_second], second[has_second]),
        (specific[has_repressor], repressor[has_repressor]),
        (constitutive, np.full(constitutive.size, ctcf)),
    ]
    inst_peak, inst_tf = [], []
    for peak_idx, tf_idx in groups:
        extra = (rng_design.random(peak_idx.size) < config.p_second_instance) & ~np.isin(tf_idx, repressors)
        copies = 1 + extra
        inst_peak.append(np.repeat(peak_idx, copies))
        inst_tf.append(np.repeat(tf_idx, copies))
    inst_peak, inst_tf = np.concatenate(inst_peak), np.concatenate(inst_tf)
    order = np.lexsort((inst_tf, inst_peak))
    inst_peak, inst_tf = inst_peak[order], inst_tf[order]

    # non-overlapping slots, central ones preferred (Gumbel top-k per peak)
    slot_width = _MAX_MOTIF_LENGTH + 2
    n_slots = config.motif_window // slot_width
    window_start = (width - n_slots * slot_width) // 2
    centre_distance = (np.arange(n_slots) + 0.5) * slot_width - n_slots * slot_width / 2
    log_weight = -0.5 * (centre_distance / (config.motif_window / 4)) ** 2
    keys = log_weight[None] + rng_design.gumbel(size=(n, n_slots))
    slot_order = np.argsort(-keys, axis=1)
    first_of_peak = np.searchsorted(inst_peak, inst_peak)
    rank = np.arange(inst_peak.size) - first_of_peak
    slot = slot_order[inst_peak, rank]
    lengths = np.array([motifs[name].length for name in tf_names])[inst_tf]
    jitter = (rng_design.random(inst_peak.size) * (slot_width - lengths + 1)).astype(np.int64)
    start = window_start + slot * slot_width + jitter
    minus = rng_design.random(inst_peak.size) < 0.5

    weight = np.zeros(inst_peak.size)
    sequences = np.empty(inst_peak.size, dtype=object)
    for t in np.unique(inst_tf):
        motif, rows = motifs[tf_names[t]], np.flatnonzero(inst_tf == t)
        sampled = motif.sample(n=rows.size, random_state=rng_design)
        pwm = motif.pwm()
        score = pwm[np.arange(motif.length), sampled].sum(axis=1)
        weight[rows] = np.clip(score / pwm.max(axis=1).sum(), 0.0, 1.0)
        on_genome = np.where(minus[rows, None], reverse_complement(sampled), sampled)
        codes[inst_peak[rows, None], start[rows, None] + np.arange(motif.length)] = on_genome
        letters = np.frombuffer(b"ACGTN", dtype=np.uint8)[on_genome]
        sequences[rows] = letters.view(f"S{motif.length}").ravel().astype(str)

    instances = pd.DataFrame(
        {
            "peak": inst_peak,
            "peak_name": peaks.index.to_numpy()[inst_peak],
            "tf": np.array(tf_names, dtype=object)[inst_tf],
            "motif_id": np.array([motifs[name].id for name in tf_names], dtype=object)[inst_tf],
            "start": start,
            "end": start + lengths,
            "strand": np.where(minus, "-", "+").astype(object),
            "weight": weight.astype(np.float32),
            "sequence": sequences,
        },
        index=pd.Index([str(i) for i in range(inst_peak.size)]),
    )
    strength = np.zeros((len(tf_names), n))
    np.add.at(strength, (inst_tf, inst_peak), weight)
    return codes, instances, strength


def _peak_bias(config, peak_class, rng) -> np.ndarray:
    mean = np.select(
        [peak_class == "constitutive", peak_class == "noise"],
        [config.bias_constitutive, config.bias_noise],
        config.bias_specific,
    )
    return mean + rng.normal(0.0, config.bias_sd, size=peak_class.size)


def _kmer_counts(codes: np.ndarray, kmers: list[str]) -> np.ndarray:
    """Occurrences of each k-mer or its reverse complement in each row of ``codes`` ``(P, W)``: ``(len(kmers), P)``."""
    k = len(kmers[0])
    hashed = np.zeros((codes.shape[0], codes.shape[1] - k + 1), dtype=np.int32)
    for j in range(k):
        hashed = hashed * 4 + codes[:, j : codes.shape[1] - k + 1 + j]
    return np.stack(
        [
            np.count_nonzero(hashed == _kmer_id(kmer), axis=1)
            + np.count_nonzero(hashed == _kmer_id(reverse_complement(kmer)), axis=1)
            for kmer in kmers
        ]
    )


def _kmer_id(kmer: str) -> int:
    return int("".join(str("ACGT".index(c)) for c in kmer), 4)


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x, dtype=np.float64)


def _batch_effect(config, peak_codes, gc, rng) -> dict:
    """Sequence-correlated batch effects ``(B, P)`` (GC slope + one k-mer per batch) and depth shifts ``(B,)``."""
    b = config.n_batches
    spread = np.linspace(-1.0, 1.0, b) if b > 1 else np.zeros(1)
    # one k-mer per batch: half G/C (so it is not a second GC effect), no CpG (rare in the genome),
    # not its own reverse complement, one per reverse-complement pair
    k = config.batch_kmer_length
    candidates = sorted(
        {
            min(w, reverse_complement(w))
            for w in map("".join, itertools.product("ACGT", repeat=k))
            if 2 * sum(c in "GC" for c in w) == k and "CG" not in w and w != reverse_complement(w)
        }
    )
    if len(candidates) < b:
        raise SeqatacInputError(
            f"batch_kmer_length = {k} leaves {len(candidates)} k-mers for {b} batches; use an even length >= 4."
        )
    kmers = list(rng.choice(np.array(candidates), size=b, replace=False))
    gc_coefficient = config.batch_gc_effect * spread
    kmer_coefficient = np.full(b, config.batch_kmer_effect if b > 1 else 0.0)
    effect = gc_coefficient[:, None] * _zscore(gc)[None]
    kmer_z = np.stack([_zscore(counts) for counts in _kmer_counts(peak_codes, kmers)])
    effect = effect + kmer_coefficient[:, None] * kmer_z
    return {
        "effect": effect.astype(np.float32),
        "gc_coefficient": gc_coefficient,
        "depth_shift": config.batch_depth_shift * spread,
        "kmer": np.array(kmers, dtype=object),
        "kmer_coefficient": kmer_coefficient,
    }


# ============================================================================================ cells, counts


def _draw_cells(config, programs, depth_shift, rng) -> tuple[pd.DataFrame, np.ndarray]:
    """Cell types, trajectories, batches, depths and the true TF activity ``(N, T)``."""
    n, k = config.n_cells, config.n_cell_types
    proportions = rng.dirichlet(np.full(k, config.type_concentration))
    cell_type = rng.choice(k, size=n, p=proportions)
    mean_activity = programs[cell_type].copy()
    pseudotime = np.full(n, np.nan)
    trajectory = np.full(n, "none", dtype=object)
    if config.n_trajectories:
        pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
        chosen = rng.choice(len(pairs), size=min(config.n_trajectories, len(pairs)), replace=False)
        on_traj = rng.random(n) < config.frac_trajectory_cells
        which = rng.choice(chosen, size=n)
        t = rng.random(n)
        for p in chosen:
            a, b = pairs[p]
            rows = np.flatnonzero(on_traj & (which == p))
            pseudotime[rows] = t[rows]
            trajectory[rows] = f"{_type_name(a)}->{_type_name(b)}"
            mean_activity[rows] = (1 - t[rows, None]) * programs[a] + t[rows, None] * programs[b]
            cell_type[rows] = np.where(t[rows] < 0.5, a, b)
    used = (programs != 0).any(axis=0) & (np.ptp(programs, axis=0) > 0)
    activity = mean_activity + rng.normal(0.0, config.activity_noise_sd, size=(n, programs.shape[1])) * used
    batch = rng.integers(config.n_batches, size=n)
    depth = config.depth_mean + depth_shift[batch] + rng.normal(0.0, config.depth_sd, size=n)
    width = len(str(n - 1))
    cells = pd.DataFrame(
        {
            _keys.CELL_TYPE: pd.Categorical.from_codes(cell_type, categories=[_type_name(i) for i in range(k)]),
            _keys.BATCH: pd.Categorical.from_codes(batch, categories=[f"batch{i}" for i in range(config.n_batches)]),
            "trajectory": pd.Categorical(trajectory),
            "pseudotime": pseudotime,
            "depth": depth,
        },
        index=pd.Index([f"cell{i:0{width}d}" for i in range(n)]),
    )
    return cells, activity.astype(np.float32)


def _probabilities(design: np.ndarray, weights: np.ndarray, p_max: float) -> np.ndarray:
    """``sigmoid(design @ weights)`` clipped to ``p_max``, float32, computed in place."""
    p = design @ weights
    np.negative(p, out=p)
    np.exp(p, out=p)
    p += 1.0
    np.reciprocal(p, out=p)
    np.minimum(p, p_max, out=p)
    return p


def _sample_counts(design, weights, config, rng) -> sparse.csr_matrix:
    """Counts ~ Poisson(-log(1 - p)), drawn chunk by chunk of cells straight into CSR arrays (never dense).

    The CSR buffers are sized from the first chunk's non-zeros (+25%; pages never written cost no memory)
    and grow only if the estimate falls short, so memory stays near the final matrix plus one chunk.
    """
    n_cells, n_peaks = design.shape[0], weights.shape[1]
    indptr = np.zeros(n_cells + 1, dtype=np.int64)
    indices = data = None
    at = 0
    for lo in range(0, n_cells, config.chunk_size):
        p = _probabilities(design[lo : lo + config.chunk_size], weights, config.p_max)
        u = rng.random(p.shape, dtype=np.float32)
        rows, cols = np.nonzero(u < p)
        p_open = p[rows, cols].astype(np.float64)
        # zero-truncated Poisson(λ), λ = -log(1 - p): the first event time τ of a rate-λ process given τ < 1
        # has CDF (1 - e^{-λτ}) / p; u / p is uniform given u < p, so inversion gives τ = -log(1 - u) / λ.
        # Then Poisson(λ (1 - τ)) further events.
        rate = -np.log1p(-p_open)
        tau = -np.log1p(-u[rows, cols].astype(np.float64)) / rate
        values = 1 + rng.poisson(rate * np.clip(1.0 - tau, 0.0, 1.0))
        del p, u
        n_rows = min(config.chunk_size, n_cells - lo)
        if indices is None:
            capacity = int(cols.size * n_cells / n_rows * 1.25) + 1024
            indices, data = np.empty(capacity, dtype=np.int32), np.empty(capacity, dtype=np.float32)
        if at + cols.size > indices.size:
            capacity = max(2 * indices.size, at + cols.size)
            indices, data = _grown(indices, capacity, at), _grown(data, capacity, at)
        indices[at : at + cols.size] = cols
        data[at : at + cols.size] = values
        indptr[lo + 1 : lo + 1 + n_rows] = at + np.cumsum(np.bincount(rows, minlength=n_rows))
        at += cols.size
    if at < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    return sparse.csr_matrix((data[:at], indices[:at], indptr), shape=(n_cells, n_peaks))


def _grown(array: np.ndarray, capacity: int, used: int) -> np.ndarray:
    bigger = np.empty(capacity, dtype=array.dtype)
    bigger[:used] = array[:used]
    return bigger


# ============================================================================================ RNA


def _simulate_rna(config, peaks, chrom_sizes, cells, activity, strength, programs, tf_names, rng):
    """Paired RNA counts (cells × genes) and the gene–peak link table."""
    n_tf = len(tf_names)
    n_genes = n_tf + config.n_genes
    gene_names = list(tf_names) + [f"G{i:05d}" for i in range(config.n_genes)]
    promoter = rng.choice(len(peaks), size=n_genes, replace=False)
    chrom = peaks[_keys.CHROM].to_numpy().astype(str)
    centre = (peaks[_keys.START].to_numpy() + peaks[_keys.END].to_numpy()) // 2
    strand = np.where(rng.random(n_genes) < 0.5, "+", "-")
    tss = centre[promoter] + rng.integers(-50, 51, size=n_genes)
    length = np.exp(rng.uniform(np.log(2_000), np.log(60_000), size=n_genes)).astype(np.int64)
    gene_chrom = chrom[promoter]
    size = np.array([chrom_sizes[c] for c in gene_chrom])
    start = np.where(strand == "+", tss, np.maximum(tss - length, 0))
    end = np.where(strand == "+", np.minimum(tss + length, size), tss + 1)

    link_gene, link_peak, link_weight = [], [], []
    chrom_rows = {c: np.flatnonzero(chrom == c) for c in chrom_sizes}
    for g in range(n_tf, n_genes):  # TF genes follow their TF program, not peaks
        rows = chrom_rows[gene_chrom[g]]
        lo = start[g] - (config.link_upstream if strand[g] == "+" else 0)
        hi = end[g] + (config.link_upstream if strand[g] == "-" else 0)
        window = rows[(centre[rows] >= lo) & (centre[rows] < hi) & (rows != promoter[g])]
        n_extra = min(rng.poisson(config.mean_extra_links), window.size)
        extra = np.sort(rng.choice(window, size=n_extra, replace=False)) if n_extra else np.empty(0, dtype=np.int64)
        link_gene += [g] * (1 + n_extra)
        link_peak += [promoter[g], *extra]
        link_weight += [1.0, *rng.uniform(0.3, 1.0, size=n_extra)]
    link_gene, link_peak = np.array(link_gene, dtype=np.int64), np.array(link_peak, dtype=np.int64)
    link_weight = np.array(link_weight)
    link_matrix = sparse.csr_matrix((link_weight, (link_peak, link_gene)), shape=(len(peaks), n_genes))
    link_norm = np.asarray(link_matrix.sum(axis=0)).ravel()
    linked = np.unique(link_peak)
    link_matrix = link_matrix[linked].multiply(1.0 / np.maximum(link_norm, 1e-12)[None]).tocsr()

    base = rng.normal(0.0, 1.0, size=n_genes)
    base -= np.log(np.exp(base).sum())
    # TF genes: expression follows the TF's activity (activators) or its negative (repressors)
    sign = np.array([-1.0 if tf in config.repressors else 1.0 for tf in tf_names])
    scale = np.maximum(np.abs(programs).max(axis=0), 1e-12)
    tf_effect = np.where(np.ptp(programs, axis=0) > 0, config.rna_tf_effect * sign / scale, 0.0)
    batch_codes = cells[_keys.BATCH].cat.codes.to_numpy()
    spread = np.linspace(-1.0, 1.0, config.n_batches) if config.n_batches > 1 else np.zeros(1)
    log_library = (
        np.log(config.rna_depth) + config.rna_batch_shift * spread[batch_codes]
        + rng.normal(0.0, config.rna_depth_sd, size=len(cells))
    )  # fmt: skip
    peak_terms = np.vstack([strength[:, linked], peaks["bias"].to_numpy()[linked][None]])
    pieces = []
    for lo in range(0, len(cells), config.chunk_size):
        act = activity[lo : lo + config.chunk_size].astype(np.float64)
        logits = np.hstack([act, np.ones((act.shape[0], 1))]) @ peak_terms + config.rna_accessibility_offset
        accessibility = 1.0 / (1.0 + np.exp(-logits))
        log_mu = log_library[lo : lo + act.shape[0], None] + base[None]
        log_mu[:, :n_tf] += act * tf_effect
        log_mu += config.rna_link_effect * (link_matrix.T @ accessibility.T).T
        mu = np.exp(log_mu) * rng.gamma(config.rna_dispersion, 1.0 / config.rna_dispersion, size=log_mu.shape)
        pieces.append(sparse.csr_matrix(rng.poisson(mu).astype(np.float32)))
    counts = sparse.vstack(pieces, format="csr")

    obs = cells[[_keys.CELL_TYPE, _keys.BATCH, "trajectory", "pseudotime"]].copy()
    obs["total_counts"] = np.asarray(counts.sum(axis=1)).ravel()
    var = pd.DataFrame(
        {
            _keys.CHROM: pd.Categorical(gene_chrom, categories=list(chrom_sizes)),
            _keys.START: start,
            _keys.END: end,
            "strand": pd.Categorical(strand, categories=["+", "-"]),
            "tss": tss,
            "is_tf": np.arange(n_genes) < n_tf,
            "promoter_peak": peaks.index.to_numpy()[promoter],
        },
        index=pd.Index(gene_names),
    )
    gene_sign = np.where(strand[link_gene] == "+", 1, -1)
    links = pd.DataFrame(
        {
            "gene": np.array(gene_names, dtype=object)[link_gene],
            "peak": link_peak,
            "peak_name": peaks.index.to_numpy()[link_peak],
            "weight": link_weight,
            "distance": (centre[link_peak] - tss[link_gene]) * gene_sign,
            "is_promoter": link_peak == promoter[link_gene],
        },
        index=pd.Index([str(i) for i in range(link_gene.size)]),
    )
    return AnnData(X=counts, obs=obs, var=var), links


# ============================================================================================ truth


def _truth(
    config, preset, seed, atac, motifs, programs, drivers, repressor_of_type, instances, batch_effect, design,
    weights, links, genome_codes, rna, rng,
) -> dict:  # fmt: skip
    obs, tf_names = atac.obs, list(motifs)
    cell_index = np.sort(rng.choice(config.n_cells, size=min(config.n_truth_cells, config.n_cells), replace=False))
    peak_index = np.sort(rng.choice(config.n_peaks, size=min(config.n_truth_peaks, config.n_peaks), replace=False))
    p_sample = _probabilities(design[cell_index], weights[:, peak_index], config.p_max)
    genome_gc, genome_cpg_oe = _composition(genome_codes)
    open_peaks = obs["n_open_peaks"].to_numpy()
    trajectories = obs.loc[obs["pseudotime"].notna(), "trajectory"].astype(str).value_counts().sort_index()
    used = (programs != 0).any(axis=0)
    truth = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "preset": preset,
        "config": json.dumps(dataclasses.asdict(config)),
        "cell_types": np.array(obs[_keys.CELL_TYPE].cat.categories, dtype=object),
        "batches": np.array(obs[_keys.BATCH].cat.categories, dtype=object),
        "cell_type": obs[_keys.CELL_TYPE].astype(str).to_numpy(dtype=object),
        "batch": obs[_keys.BATCH].astype(str).to_numpy(dtype=object),
        "pseudotime": obs["pseudotime"].to_numpy(),
        "tfs": pd.DataFrame(
            {
                "tf": tf_names,
                "motif_id": [motifs[t].id for t in tf_names],
                "motif_name": [motifs[t].name for t in tf_names],
                "role": [
                    "activator" if t in config.activators else "repressor" if t in config.repressors else "constitutive"
                    for t in tf_names
                ],
                "used": used,
            },
            index=pd.Index(tf_names),
        ),
        "activators": np.array(config.activators, dtype=object),
        "repressors": np.array(config.repressors, dtype=object),
        "drivers": {t: np.array(v, dtype=object) for t, v in drivers.items()},
        "repressor_of_type": repressor_of_type,
        "programs": pd.DataFrame(programs, index=pd.Index(list(drivers)), columns=tf_names),
        "tf_names": np.array(tf_names, dtype=object),
        "tf_activity": atac.obsm[_keys.TRUE_TF_ACTIVITY_OBSM].to_numpy(dtype=np.float32),
        "motif_instances": instances,
        "trajectories": pd.DataFrame(
            {
                "name": trajectories.index.to_numpy(dtype=object),
                "from": [n.split("->")[0] for n in trajectories.index],
                "to": [n.split("->")[1] for n in trajectories.index],
                "n_cells": trajectories.to_numpy(),
            },
            index=pd.Index([str(i) for i in range(len(trajectories))]),
        ),
        "batch_effect": batch_effect,
        "p_sample": {"cell_index": cell_index, "peak_index": peak_index, "p": p_sample},
        "summary": {
            "n_cells": config.n_cells,
            "n_peaks": config.n_peaks,
            "n_nonzero": int(atac.X.nnz),
            "density": float(atac.X.nnz / (config.n_cells * config.n_peaks)),
            "median_open_peaks": float(np.median(open_peaks)),
            "open_peaks_p5": float(np.percentile(open_peaks, 5)),
            "open_peaks_p95": float(np.percentile(open_peaks, 95)),
            "mean_count_nonzero": float(atac.X.data.mean()) if atac.X.nnz else 0.0,
            "genome_gc": genome_gc,
            "genome_cpg_oe": genome_cpg_oe,
            "n_genes": 0 if rna is None else rna.n_vars,
        },
    }
    if links is not None:
        truth["gene_peak_links"] = links
    return truth


# ============================================================================================ I/O helpers


def _resolve_seed(random_state) -> int:
    if random_state is None or isinstance(random_state, np.random.Generator):
        generator = random_state if random_state is not None else np.random.default_rng()
        return int(generator.integers(2**31 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    raise SeqatacInputError(
        f"random_state must be a non-negative int, a numpy Generator or None, got {random_state!r}; pass e.g. 0."
    )



def _jsonable(value):
    """Plain-JSON form of the truth: arrays -> lists (NaN -> null), DataFrames -> {column: list}."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        columns = {str(c): _jsonable(value[c].to_numpy()) for c in value}
        return {"index": _jsonable(value.index.to_numpy()), "columns": columns}
    if isinstance(value, (np.ndarray, list, tuple)):
        array = np.asarray(value)
        if array.ndim > 1 or array.dtype.kind == "O":
            return [_jsonable(v) for v in array]
        if array.dtype.kind == "f":
            return [None if v != v else v for v in array.tolist()]  # NaN -> null
        return array.tolist()
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
