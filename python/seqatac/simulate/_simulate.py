"""The :class:`Simulation` result and :func:`simulate_atac`, which runs every stage from one seed."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys
from .._errors import SeqatacInputError
from ..data import Genome, decode_sequence, gc_content
from ._cells import _batch_effect, _draw_cells, _sample_counts
from ._config import SimulationConfig
from ._genome import _assemble_genome, _layout_peaks
from ._rna import _simulate_rna
from ._sequences import _draw_programs, _load_motifs, _peak_bias, _peak_sequences
from ._truth import _truth

logger = logging.getLogger(__name__)


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
    ``truth``; see the :mod:`seqatac.simulate` docstring for every column and key.
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


def _resolve_seed(random_state) -> int:
    if random_state is None or isinstance(random_state, np.random.Generator):
        generator = random_state if random_state is not None else np.random.default_rng()
        return int(generator.integers(2**31 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    raise SeqatacInputError(
        f"random_state must be a non-negative int, a numpy Generator or None, got {random_state!r}; pass e.g. 0."
    )
