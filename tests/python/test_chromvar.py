"""chromVAR-style deviations: formulas, background matching, the AnnData wrapper, simulator truth."""

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy import sparse, stats
from seqatac import SeqatacInputError, SeqatacWarning
from seqatac.baselines._chromvar import (
    background_peaks,
    chromvar_deviations,
    compute_deviations,
    motif_variability,
)

# 4 cells × 6 peaks; cell 3 has 2 fragments, so it expects < 1 fragment in motif B's peaks
COUNTS = np.array(
    [
        [3, 0, 1, 2, 0, 4],
        [0, 5, 2, 0, 1, 1],
        [2, 2, 0, 3, 4, 0],
        [0, 1, 0, 0, 1, 0],
    ],
    dtype=float,
)
MATCHES = np.array([[1, 0], [1, 1], [0, 0], [1, 0], [0, 1], [0, 0]], dtype=float)  # motifs A, B
BACKGROUND = np.array([[2, 5, 3], [3, 0, 1], [4, 4, 0], [5, 2, 2], [0, 1, 5], [1, 3, 4]])


def _direct_chromvar(counts, matches, background):
    """chromVAR's compute_deviations_single, motif by motif, written out with dense numpy."""
    depth = counts.sum(axis=1)
    expectation = counts.sum(axis=0) / counts.sum()
    dev, z = [], []
    for motif in range(matches.shape[1]):
        peaks = np.flatnonzero(matches[:, motif])
        expected = expectation[peaks].sum() * depth
        raw = (counts[:, peaks].sum(axis=1) - expected) / expected
        sampled = []
        for k in range(background.shape[1]):
            bg = background[peaks, k]
            bg_expected = expectation[bg].sum() * depth
            sampled.append((counts[:, bg].sum(axis=1) - bg_expected) / bg_expected)
        sampled = np.array(sampled)
        corrected = raw - sampled.mean(axis=0)
        score = corrected / sampled.std(axis=0, ddof=1)
        corrected[expected < 1], score[expected < 1] = np.nan, np.nan
        dev.append(corrected)
        z.append(score)
    return np.array(dev).T, np.array(z).T


def test_deviations_equal_the_formulas():
    dev, z = compute_deviations(sparse.csr_matrix(COUNTS), MATCHES, BACKGROUND)
    want_dev, want_z = _direct_chromvar(COUNTS, MATCHES, BACKGROUND)
    np.testing.assert_allclose(dev, want_dev, equal_nan=True)
    np.testing.assert_allclose(z, want_z, equal_nan=True)
    # one value by hand: cell 0 (10 fragments), motif A (peaks 0, 1, 3); 32 fragments in all.
    # expectation of peaks 0,1,3 = (5 + 8 + 5) / 32 -> expected 5.625, observed 5: raw = 5/5.625 - 1
    # backgrounds {2,3,5}, {5,0,2}, {3,1,2}: expectations 13/32, 13/32, 16/32; cell 0 counts 7, 8, 3
    raw = 5 / 5.625 - 1
    bg_dev = np.array([7 / (10 * 13 / 32) - 1, 8 / (10 * 13 / 32) - 1, 3 / 5 - 1])
    assert dev[0, 0] == pytest.approx(raw - bg_dev.mean())
    assert z[0, 0] == pytest.approx((raw - bg_dev.mean()) / bg_dev.std(ddof=1))
    # cell 3 expects 2 * (8 + 6) / 32 < 1 fragment for motif B: undefined, as in chromVAR
    assert np.isnan(z[3, 1]) and np.isfinite(z[3, 0])


def test_deviations_blockwise_over_motifs(monkeypatch):
    import seqatac.baselines._chromvar as chromvar

    rng = np.random.default_rng(0)
    counts = sparse.csr_matrix(rng.poisson(0.8, size=(30, 50)).astype(float))
    matches = sparse.csr_matrix((rng.random((50, 7)) < 0.3).astype(float))
    background = rng.integers(0, 50, size=(50, 6))
    whole = compute_deviations(counts, matches, background)
    monkeypatch.setattr(chromvar, "_DENSE_BLOCK_ELEMENTS", 100)  # 2 motifs per block
    blocked = compute_deviations(counts, matches, background)
    for a, b in zip(whole, blocked):
        np.testing.assert_allclose(a, b, equal_nan=True)
    np.testing.assert_allclose(whole[1], _direct_chromvar(counts.toarray(), matches.toarray(), background)[1])


def _peak_table(n_peaks=3000, seed=0):
    rng = np.random.default_rng(seed)
    gc = np.clip(rng.normal(0.45, 0.08, n_peaks), 0.2, 0.8)
    rate = np.exp(rng.normal(-2.5, 0.8, n_peaks)) * (1 + 2 * (gc - 0.45))  # accessibility tied to GC
    counts = sparse.csr_matrix(rng.poisson(np.clip(rate, 1e-3, None), size=(400, n_peaks)).astype(float))
    counts[0, np.flatnonzero(np.asarray(counts.sum(axis=0)).ravel() == 0)] = 1
    return counts, gc


def test_background_peaks_match_gc_and_accessibility():
    counts, gc = _peak_table()
    bg = background_peaks(counts, gc, n_backgrounds=50, random_state=0)
    assert bg.shape == (gc.size, 50) and bg.dtype == np.int64
    assert bg.min() >= 0 and bg.max() < gc.size
    log_depth = np.log10(np.asarray(counts.sum(axis=0)).ravel())
    random = np.random.default_rng(1).integers(0, gc.size, bg.shape)
    for feature in (gc, log_depth):
        matched_gap = np.abs(feature[bg] - feature[:, None]).mean(axis=1)
        random_gap = np.abs(feature[random] - feature[:, None]).mean(axis=1)
        assert matched_gap.mean() < 0.2 * random_gap.mean()
        assert stats.wilcoxon(matched_gap, random_gap, alternative="less").pvalue < 1e-10
    # the mean GC of a peak's backgrounds tracks its own GC closely
    assert stats.pearsonr(gc[bg].mean(axis=1), gc)[0] > 0.98


def test_background_peaks_deterministic_by_seed():
    counts, gc = _peak_table(n_peaks=500)
    first = background_peaks(counts, gc, n_backgrounds=10, random_state=3)
    np.testing.assert_array_equal(first, background_peaks(counts, gc, n_backgrounds=10, random_state=3))
    assert (first != background_peaks(counts, gc, n_backgrounds=10, random_state=4)).any()


def test_background_peaks_kernel_width():
    # four clusters: GC 0.3 / 0.6 × 10 / 1000 fragments per peak, 50 peaks each
    gc = np.repeat([0.3, 0.3, 0.6, 0.6], 50)
    depth = np.repeat([10.0, 1000.0, 10.0, 1000.0], 50)
    cluster = np.repeat(np.arange(4), 50)
    counts = sparse.csr_matrix(depth[None, :])
    narrow = background_peaks(counts, gc, n_backgrounds=40, bandwidth=1e-3, random_state=0)
    assert (cluster[narrow] == cluster[:, None]).all()
    # a very wide kernel weighs the four occupied grid points alike: ~1/4 of draws stay home
    wide = background_peaks(counts, gc, n_backgrounds=40, bandwidth=1e3, random_state=0)
    assert (cluster[wide] == cluster[:, None]).mean() == pytest.approx(0.25, abs=0.03)


def test_background_peaks_rejects_empty_peaks():
    counts = sparse.csr_matrix(np.array([[1.0, 0.0, 2.0]]))
    with pytest.raises(SeqatacInputError, match="no fragments"):
        background_peaks(counts, [0.4, 0.5, 0.6])


def _toy_adata(n_cells=60, n_peaks=120, seed=0):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(0.6, size=(n_cells, n_peaks)).astype(float)
    counts[:, 7] = 0  # a peak open in no cell
    adata = AnnData(sparse.csr_matrix(counts), obs=pd.DataFrame(index=[f"c{i}" for i in range(n_cells)]))
    matches = (rng.random((n_peaks, 3)) < 0.2).astype(float)
    matches[:, 2] = 0
    matches[7, 2] = 1  # motif C matches only the empty peak: zero matches once it is dropped
    gc = rng.uniform(0.3, 0.6, n_peaks)
    return adata, matches, gc


def test_chromvar_deviations_writes_results_and_drops_empty():
    adata, matches, gc = _toy_adata()
    with pytest.warns(SeqatacWarning, match="match no peak.*motif_C"):
        out = chromvar_deviations(
            adata, ["motif_A", "motif_B", "motif_C"], matches=matches, gc=gc, n_backgrounds=20, copy=True
        )
    assert "chromvar" not in adata.obsm  # copy=True leaves the input alone
    z = out.obsm["chromvar"]
    assert isinstance(z, pd.DataFrame) and list(z.columns) == ["motif_A", "motif_B"]
    assert z.index.equals(adata.obs_names)
    info = out.uns["chromvar"]
    assert info["n_peaks_dropped"] == 1 and info["n_peaks_used"] == 119
    assert list(info["dropped_motifs"]) == ["motif_C"]
    np.testing.assert_array_equal(info["n_matches"], np.delete(matches, 7, axis=0)[:, :2].sum(axis=0))

    # the same numbers as the core on the filtered peaks with the same backgrounds
    counts = adata.X[:, np.arange(120) != 7]
    bg = background_peaks(counts, np.delete(gc, 7), n_backgrounds=20, random_state=0)
    dev, want_z = compute_deviations(counts, np.delete(matches, 7, axis=0)[:, :2], bg)
    np.testing.assert_allclose(z.to_numpy(), want_z, equal_nan=True)
    np.testing.assert_allclose(out.obsm["chromvar_deviations"].to_numpy(), dev, equal_nan=True)
    np.testing.assert_allclose(info["variability"]["variability"], np.nanstd(want_z, axis=0, ddof=1))

    assert chromvar_deviations(adata, matches=matches[:, :2], gc=gc, n_backgrounds=20, key_added="cv") is None
    assert list(adata.obsm["cv"].columns) == ["motif_0", "motif_1"]


def test_chromvar_deviations_needs_sequences_or_matches():
    adata, matches, _ = _toy_adata()
    with pytest.raises(SeqatacInputError, match="genome"):
        chromvar_deviations(adata, matches=matches)


def test_motif_variability():
    rng = np.random.default_rng(0)
    z = pd.DataFrame(rng.normal(0, [1.0, 3.0], size=(500, 2)), columns=["flat", "variable"])
    table = motif_variability(z, n_bootstrap=200, random_state=0)
    assert list(table.index) == ["flat", "variable"]
    np.testing.assert_allclose(table["variability"], z.std(ddof=1))
    assert table.loc["variable", "p_value_adj"] < 1e-10 < table.loc["flat", "p_value"]
    assert (table["bootstrap_lower_bound"] < table["variability"]).all()
    assert (table["variability"] < table["bootstrap_upper_bound"]).all()


def test_chromvar_from_genome_and_motifs():
    from seqatac.data._genome import Genome
    from seqatac.data._motifs import Motif

    rng = np.random.default_rng(0)
    sequence = rng.choice(list("ACGT"), 100_000, p=[0.3, 0.2, 0.2, 0.3])
    site = "TGACGTCATG"
    motif = Motif.from_counts("M1", "PLANTED", [[90 if b == c else 3 for c in "ACGT"] for b in site])
    other = Motif.from_counts("M2", "ABSENT", [[90 if b == c else 3 for c in "ACGT"] for b in "GGGGCCCCGGGGCCCC"])
    starts = np.arange(200) * 480 + 10
    widths = np.where(np.arange(200) % 3 == 0, 200, 300)  # two peak widths: each read at its own width
    planted = np.arange(200) % 5 == 0  # a minority, as a TF's sites are
    for start, width in zip(starts[planted], widths[planted]):
        centre = start + width // 2
        sequence[centre : centre + len(site)] = list(site)
    genome = Genome.from_dict({"chr1": "".join(sequence)})

    n_cells = 80
    # the first 40 cells open the planted peaks more, the others less: same mean accessibility overall,
    # so background peaks (matched on it) are mostly unplanted ones
    group = np.arange(n_cells) < 40
    rate = np.where(planted[None, :], np.where(group[:, None], 1.8, 0.2), 1.0)
    counts = sparse.csr_matrix(rng.poisson(rate).astype(float))
    var = pd.DataFrame({"chrom": "1", "start": starts, "end": starts + widths}, index=[f"p{i}" for i in range(200)])
    adata = AnnData(counts, var=var)
    with pytest.warns(SeqatacWarning, match="ABSENT"):
        chromvar_deviations(adata, [motif, other], genome=genome, n_backgrounds=20)
    info = adata.uns["chromvar"]
    assert list(adata.obsm["chromvar"].columns) == ["PLANTED"]
    assert info["n_matches"][0] >= planted.sum()  # every planted site found (+ chance matches)
    assert info["n_matches"][0] <= planted.sum() + 5
    z = adata.obsm["chromvar"]["PLANTED"].to_numpy()
    assert np.nanmean(z[group]) > 1 and np.nanmean(z[~group]) < -1
    assert (z[group] > np.nanmedian(z)).mean() > 0.9


def _driver_recovery(preset):
    """Share of cell types whose primary driver TF tops chromVAR's ranking (mean z in type − elsewhere)."""
    from seqatac.data._motifs import jaspar
    from seqatac.simulate import simulate_atac

    sim = simulate_atac(preset, random_state=0, rna=False)
    tfs = sim.truth["tfs"]
    motifs = jaspar(ids=list(tfs["motif_id"]))
    chromvar_deviations(sim.atac, motifs, genome=sim.genome)
    z = sim.atac.obsm["chromvar"].rename(columns=dict(zip(tfs["motif_name"], tfs["tf"])))
    cell_type = sim.atac.obs["cell_type"].astype(str).to_numpy()
    top = {}
    for name, drivers in sim.truth["drivers"].items():
        inside = cell_type == name
        top[name] = ((z[inside].mean() - z[~inside].mean()).idxmax(), list(drivers)[0])
    return np.mean([found == driver for found, driver in top.values()]), top


def test_acceptance_driver_tf_ranked_first():
    # the project's acceptance criterion, on the `small` preset (2,000 cells × 5,000 peaks, ~7 s)
    fraction, top = _driver_recovery("small")
    assert fraction >= 0.7, top


def test_peaks_of_many_widths_are_read_at_their_own_extent(monkeypatch):
    import seqatac.baselines._chromvar as chromvar
    from seqatac.data._genome import Genome
    from seqatac.data._motifs import Motif
    from seqatac.data._sequence import encode_sequence, gc_content

    rng = np.random.default_rng(1)
    sequence = "".join(rng.choice(list("ACGT"), 30_000))
    genome = Genome.from_dict({"chr1": sequence})
    starts = np.arange(40) * 700 + 20
    widths = rng.integers(150, 420, 40)
    var = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + widths}, index=[f"p{i}" for i in range(40)])
    adata = AnnData(sparse.csr_matrix((2, 40)), var=var)
    motif = Motif.from_counts("M1", "M1", [[90 if b == c else 3 for c in "ACGT"] for b in "ACGTAC"])
    keep = np.ones(40, dtype=bool)
    exact_gc = [gc_content(encode_sequence(sequence[s : s + w])) for s, w in zip(starts, widths)]
    # at p = 1e-3 only the exact word (or its reverse complement) passes: 4**-6 < 1e-3 < 19 * 4**-6
    exact_matches = [
        int("ACGTAC" in sequence[s : s + w] or "GTACGT" in sequence[s : s + w]) for s, w in zip(starts, widths)
    ]

    monkeypatch.setattr(chromvar, "_MAX_WIDTH_GROUPS", 0)  # force rounded-up windows with N-masked flanks
    matches, gc = chromvar._scan_peaks(adata, keep, genome, [motif], width=None, p_value=1e-3)
    np.testing.assert_allclose(gc, exact_gc)
    np.testing.assert_array_equal(matches.toarray().ravel(), exact_matches)
    assert 0 < sum(exact_matches) < 40
