"""Signac-style gene activity: per cell, the counts of the peaks that overlap each gene body + promoter.

Follows Signac's ``GeneActivity`` (stuart-lab/signac, R/utilities.R): each gene is extended
``extend.upstream = 2000`` bp upstream of its TSS and ``extend.downstream = 0`` bp past its end,
strand-aware, clipped at 0; genes at least ``max.width = 500000`` bp long are not quantified. Signac
counts fragments in those ranges; with a peak matrix we sum the counts of the peaks overlapping them.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._errors import SeqatacInputError, SeqatacWarning
from .._keys import CHROM, END, START
from ..data import (check_counts, check_paired_rna, chromosome_key, gene_annotation, overlapping_pairs,
                    parse_regions)

logger = logging.getLogger(__name__)


def _refuse_no_overlap(gene_chroms: np.ndarray, peak_chroms: np.ndarray) -> None:
    """No gene overlaps any peak: say whether they share no chromosome (naming or build) or no position."""
    genes_on, peaks_on = pd.unique(gene_chroms), pd.unique(peak_chroms)
    shared = set(chromosome_key(genes_on)) & set(chromosome_key(peaks_on))
    def listed(names):
        return ", ".join(map(str, names[:4])) + (", ..." if len(names) > 4 else "")

    where = (f"they share no chromosome (peaks on {listed(peaks_on)}; genes on {listed(genes_on)})" if not shared else
             f"none of its {len(gene_chroms):,} genes overlaps one of the {len(peak_chroms):,} peaks")
    raise SeqatacInputError(
        f"the gene annotation does not fit these peaks: {where}, so every gene activity would be 0. Is it the "
        "annotation of the genome build the peaks were called on? Fix: pass that build's genes."
    )


def gene_activity(
    adata: AnnData,
    genes: pd.DataFrame | AnnData | str | os.PathLike,
    *,
    upstream: int = 2000,
    downstream: int = 0,
    include_body: bool = True,
    max_width: int | None = 500_000,
    key_added: str | None = None,
) -> AnnData:
    """Sum peak counts over each gene's body and promoter (Signac's ``GeneActivity``).

    A peak counts towards a gene when it overlaps (by at least 1 bp) the gene's range extended
    ``upstream`` bp before the TSS and ``downstream`` bp after the gene end (both strand-aware; on the
    minus strand the TSS is the gene's ``end``). Chromosome names are matched loosely (``chr1`` = ``1``,
    ``chrM`` = ``MT``, as the Genome does).

    Parameters
    ----------
    adata
        Cells × peaks counts; peak coordinates in ``var`` (``chrom``/``start``/``end``) or the names.
    genes
        Gene annotation: a DataFrame indexed by gene name with ``chrom``/``start``/``end`` (0-based,
        half-open) and ``strand`` (``+``/``-``; missing or ``*`` is read as ``+`` with a warning), or a
        paired-RNA AnnData whose ``var`` has them (its ``obs_names`` must equal ``adata.obs_names``), or
        a build name (``"hg19"``, ``"hg38"``) or GTF/GFF3 path, read by
        :func:`seqatac.data.gene_annotation` with its defaults (protein-coding genes by name).
    upstream
        Bases added upstream of the TSS (Signac's ``extend.upstream``).
    downstream
        Bases added downstream of the gene end, or of the TSS when ``include_body=False``.
    include_body
        Use gene body + promoter; ``False`` uses the TSS (1 bp) extended by ``upstream``/``downstream``.
    max_width
        Genes this long or longer get a zero column, as Signac skips them; ``None`` keeps all.
    key_added
        If given, also write the matrix to ``adata.obsm[key_added]`` (CSR) and the parameters and gene
        names to ``adata.uns[key_added]``.

    Returns
    -------
    AnnData cells × genes with CSR ``X`` (summed counts: int64 for integer or boolean ``adata.X``, else
    its float dtype), ``obs`` copied from
    ``adata``, ``var`` = the gene annotation plus ``n_peaks`` (overlapping peaks per gene), and
    ``uns["gene_activity"]["params"]``.
    """
    if upstream < 0 or downstream < 0:
        raise SeqatacInputError(
            f"upstream and downstream must be >= 0 bases, got {upstream} and {downstream}."
        )
    if isinstance(genes, (str, os.PathLike)):
        genes = gene_annotation(genes)
    if isinstance(genes, AnnData):
        check_paired_rna(adata, genes, values=False)  # only its cells and genes are used
        genes = genes.var
    if not isinstance(genes, pd.DataFrame):
        raise SeqatacInputError(
            f"genes must be a DataFrame, an AnnData, a build name or a GTF/GFF3 path, got "
            f"{type(genes).__name__}; pass e.g. rna.var with chrom/start/end/strand columns, or 'hg19'."
        )

    peaks = parse_regions(adata.var)
    loci = parse_regions(genes, unique=False)  # genes may share an interval
    gene_start, gene_end = loci[START].to_numpy(), loci[END].to_numpy()
    minus = _minus_strand(genes)
    if not include_body:  # the 1-bp TSS
        gene_start = np.where(minus, gene_end - 1, gene_start)
        gene_end = gene_start + 1
    region_start = np.maximum(np.where(minus, gene_start - downstream, gene_start - upstream), 0)
    region_end = np.where(minus, gene_end + upstream, gene_end + downstream)

    gene_index, peak_index = overlapping_pairs(
        loci[CHROM].to_numpy(), region_start, region_end,
        peaks[CHROM].to_numpy(), peaks[START].to_numpy(), peaks[END].to_numpy(),
    )
    if gene_index.size == 0:
        _refuse_no_overlap(loci[CHROM].to_numpy(), peaks[CHROM].to_numpy())
    if max_width is not None:
        too_wide = (loci[END] - loci[START]).to_numpy() >= max_width
        keep = ~too_wide[gene_index]
        gene_index, peak_index = gene_index[keep], peak_index[keep]
        if too_wide.any():
            logger.info("gene activity: %d genes of >= %d bp are not quantified", too_wide.sum(), max_width)

    counts = sparse.csr_matrix(check_counts(adata.X, "adata.X"))
    if counts.dtype.kind in "biu" and counts.dtype.itemsize < 8:  # sums of uint8/int16 counts would wrap
        counts = counts.astype(np.int64)
    n_genes = len(genes)
    assignment = sparse.csr_matrix(
        (np.ones(gene_index.size, dtype=counts.dtype), (peak_index, gene_index)),
        shape=(adata.n_vars, n_genes),
    )
    activity = sparse.csr_matrix(counts @ assignment)
    n_peaks = np.bincount(gene_index, minlength=n_genes)
    n_empty = int((n_peaks == 0).sum())
    logger.info(
        "gene activity: %d genes × %d cells; %d genes overlap no peak (zero columns)",
        n_genes, adata.n_obs, n_empty,
    )

    params = {
        "upstream": int(upstream),
        "downstream": int(downstream),
        "include_body": bool(include_body),
        "max_width": -1 if max_width is None else int(max_width),
    }
    var = genes.copy()
    var.index = var.index.astype(str)
    var["n_peaks"] = n_peaks
    result = AnnData(
        X=activity,
        obs=adata.obs.copy(),
        var=var,
        uns={"gene_activity": {"params": params, "n_genes_without_peaks": n_empty}},
    )
    if key_added is not None:
        adata.obsm[key_added] = activity
        adata.uns[key_added] = {"params": params, "gene_names": np.asarray(var.index, dtype=object)}
    return result


def _minus_strand(genes: pd.DataFrame) -> np.ndarray:
    """Boolean minus-strand mask from a ``strand`` column (``-``/``-1``); anything else is ``+``."""
    columns = {str(c).lower(): c for c in genes.columns}
    if "strand" not in columns:
        warnings.warn(
            "genes have no 'strand' column; all genes are treated as on the + strand (TSS = start). "
            "Add a strand column (+/-) for strand-aware promoters.",
            SeqatacWarning,
            stacklevel=3,
        )
        return np.zeros(len(genes), dtype=bool)
    raw = genes[columns["strand"]]
    strand = raw.astype(str).str.strip()
    numeric = pd.to_numeric(strand, errors="coerce").to_numpy()
    minus = (strand == "-").to_numpy() | (numeric == -1)
    unknown = ~(minus | (strand == "+").to_numpy() | (numeric == 1))
    if unknown.any():
        warnings.warn(
            f"{int(unknown.sum())} gene(s) have no +/- strand (e.g. "
            f"{', '.join(f'{name}: {value!r}' for name, value in raw[unknown][:3].items())}); "
            "they are treated as on the + strand, as Signac does.",
            SeqatacWarning,
            stacklevel=3,
        )
    return minus
