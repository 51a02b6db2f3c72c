"""Motifs and cell-type programs, peak sequences with planted motif instances, peak biases and k-mer counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._errors import SeqatacInputError
from ..data import Motif, jaspar, reverse_complement
from ._config import _MAX_MOTIF_LENGTH, MOTIF_IDS, SimulationConfig, _type_name
from ._genome import _sample_markov


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
