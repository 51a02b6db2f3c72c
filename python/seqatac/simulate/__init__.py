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

from ._config import MOTIF_IDS, PRESETS, SimulationConfig
from ._io import write_simulation
from ._simulate import Simulation, simulate_atac

__all__ = ["SimulationConfig", "Simulation", "PRESETS", "MOTIF_IDS", "simulate_atac", "write_simulation"]
