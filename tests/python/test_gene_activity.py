"""Signac-style gene activity: exact sums on a hand-built peak/gene layout."""

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy import sparse
from seqatac import SeqatacInputError, SeqatacWarning
from seqatac.baselines import gene_activity
from seqatac.data import chromosome_key, overlapping_pairs

# peaks, 0-based half-open; peak 5 is on "2" while the genes say "chr2" (names must be harmonised)
PEAKS = pd.DataFrame(
    {
        "chrom": ["chr1", "chr1", "chr1", "chr1", "chr1", "2", "chrX"],
        "start": [100, 1000, 2950, 5000, 9000, 100, 0],
        "end": [200, 1100, 3050, 5100, 9200, 300, 50],
    },
    index=[f"p{i}" for i in range(7)],
)
GENES = pd.DataFrame(
    {
        "chrom": ["chr1", "chr1", "chr1", "chr1", "chr2", "chr3", "chrX"],
        "start": [3000, 2200, 7000, 4000, 2100, 100, 500],
        "end": [6000, 2300, 8000, 4500, 2500, 900, 600],
        "strand": ["+", "+", "-", "-", "+", "+", "+"],
    },
    index=["plus", "edge", "minus", "minus2", "on_chr2", "no_peak", "clipped"],
)
# gene -> overlapping peaks with body + 2 kb upstream (worked out by hand):
#   plus    [1000, 6000): p1 (starts at 1000), p2, p3
#   edge    [200, 2300):  p1; p0 ends at 200, so it does not overlap (half-open)
#   minus   [7000, 10000): upstream is to the right on the minus strand: p4
#   minus2  [4000, 6500): p3 (as a + gene it would be [2000, 4500) and take p2 instead)
#   on_chr2 [100, 2500):  p5 on "2"
#   no_peak: nothing on chr3
#   clipped [0, 600) after clipping -1500 at 0: p6
BODY_HITS = {"plus": [1, 2, 3], "edge": [1], "minus": [4], "minus2": [3], "on_chr2": [5], "no_peak": [], "clipped": [6]}
# TSS only (1 bp) + 2 kb upstream: plus [1000, 3001), edge [200, 2201), minus [7999, 10000),
# minus2 [4499, 6500), on_chr2 [100, 2101), clipped [0, 501)
TSS_HITS = {"plus": [1, 2], "edge": [1], "minus": [4], "minus2": [3], "on_chr2": [5], "no_peak": [], "clipped": [6]}


def _atac():
    counts = np.array(
        [
            [1, 2, 0, 3, 0, 4, 1],
            [0, 0, 5, 1, 2, 0, 0],
            [7, 1, 1, 0, 0, 2, 3],
        ]
    )
    return AnnData(sparse.csr_matrix(counts), obs=pd.DataFrame(index=["c0", "c1", "c2"]), var=PEAKS.copy())


def _expected(adata, hits):
    dense = adata.X.toarray()
    return np.stack([dense[:, hits[g]].sum(axis=1) for g in GENES.index], axis=1)


def test_gene_body_plus_upstream_sums_exactly():
    adata = _atac()
    result = gene_activity(adata, GENES)
    assert sparse.isspmatrix_csr(result.X)
    assert list(result.var_names) == list(GENES.index)
    assert list(result.obs_names) == ["c0", "c1", "c2"]
    np.testing.assert_array_equal(result.X.toarray(), _expected(adata, BODY_HITS))
    np.testing.assert_array_equal(result.var["n_peaks"], [len(BODY_HITS[g]) for g in GENES.index])
    assert result.uns["gene_activity"]["n_genes_without_peaks"] == 1
    assert result.uns["gene_activity"]["params"]["upstream"] == 2000


def test_tss_only_window():
    adata = _atac()
    result = gene_activity(adata, GENES, include_body=False)
    np.testing.assert_array_equal(result.X.toarray(), _expected(adata, TSS_HITS))


def test_downstream_extension_is_strand_aware():
    # 500 bp past the gene end: "minus2" ([4000, 4500) on -) now reaches down to 3500, still not p2
    # (ends 3050); with 1000 bp it reaches 3000 and takes p2. "plus" gains nothing (next peak at 9000).
    adata = _atac()
    near = gene_activity(adata, GENES, downstream=500).var["n_peaks"]
    far = gene_activity(adata, GENES, downstream=1000).var["n_peaks"]
    assert near["minus2"] == 1 and far["minus2"] == 2
    assert near["plus"] == far["plus"] == 3


def test_paired_rna_anndata_and_key_added():
    adata = _atac()
    rna = AnnData(np.zeros((3, len(GENES))), obs=pd.DataFrame(index=adata.obs_names), var=GENES.copy())
    result = gene_activity(adata, rna, key_added="gene_activity")
    np.testing.assert_array_equal(adata.obsm["gene_activity"].toarray(), result.X.toarray())
    assert list(adata.uns["gene_activity"]["gene_names"]) == list(GENES.index)

    rna.obs_names = ["x", "y", "z"]
    with pytest.raises(SeqatacInputError, match="do not match"):
        gene_activity(adata, rna)


def test_max_width_and_missing_strand():
    adata = _atac()
    result = gene_activity(adata, GENES, max_width=1000)  # "plus" is 3000 bp long
    assert result.var.loc["plus", "n_peaks"] == 0
    assert result.X[:, 0].nnz == 0
    with pytest.warns(SeqatacWarning, match="strand"):
        unstranded = gene_activity(adata, GENES.drop(columns="strand"))
    # minus2 read as + : [2000, 4500) takes p2 instead of p3
    dense = adata.X.toarray()
    np.testing.assert_array_equal(unstranded.X[:, 3].toarray().ravel(), dense[:, 2])


def test_overlaps_match_brute_force():
    rng = np.random.default_rng(0)
    n_query, n_subject = 200, 300
    q_chrom = rng.choice(["chr1", "chr2", "3"], n_query)
    s_chrom = rng.choice(["1", "chr2", "chr3", "chr4"], n_subject)
    q_start = rng.integers(0, 10_000, n_query)
    q_end = q_start + rng.integers(1, 800, n_query)
    s_start = rng.integers(0, 10_000, n_subject)
    s_end = s_start + rng.integers(1, 400, n_subject)
    qi, si = overlapping_pairs(q_chrom, q_start, q_end, s_chrom, s_start, s_end)
    same = chromosome_key(q_chrom)[:, None] == chromosome_key(s_chrom)[None, :]
    brute = same & (s_start[None, :] < q_end[:, None]) & (s_end[None, :] > q_start[:, None])
    assert sorted(zip(qi, si)) == sorted(zip(*np.nonzero(brute)))
    assert len(qi) > 50


def test_chromosome_key():
    keys = chromosome_key(["chr1", "1", "CHRX", "chrM", "MT", "M", "chr2"])
    assert len(set(keys[:2])) == 1 and len(set(keys[3:6])) == 1 and len(set(keys)) == 4


def test_simulated_genes_include_their_promoter_peak():
    from seqatac.simulate import simulate_atac

    sim = simulate_atac("tiny", random_state=0, rna=True)
    result = gene_activity(sim.atac, sim.rna)
    assert (result.var["n_peaks"] >= 1).all()
    promoter = sim.atac.var_names.get_indexer(sim.rna.var["promoter_peak"])
    assert (promoter >= 0).all()
    # every gene's activity is its promoter peak's counts plus those of other overlapping peaks
    assert (result.X.toarray() >= sim.atac.X[:, promoter].toarray()).all()
    assert (result.X.toarray() > sim.atac.X[:, promoter].toarray()).any()
