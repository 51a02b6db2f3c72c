"""Paired RNA: genes at promoter peaks, gene–peak links and negative-binomial counts driven by accessibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .. import _keys


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
