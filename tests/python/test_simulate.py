"""Tests of the ground-truth simulator (seqatac.simulate), on the ``tiny`` preset."""

import hashlib
import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from seqatac import SeqatacInputError
from seqatac.data._motifs import jaspar
from seqatac.data._sequence import encode_sequence, gc_content, reverse_complement
from seqatac.simulate import (
    PRESETS,
    Simulation,
    SimulationConfig,
    simulate_atac,
    write_simulation,
)


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate_atac("tiny", random_state=0)


def _open(sim):
    return (sim.atac.X > 0).astype(np.float64).tocsr()


def test_shapes_sparsity_and_columns(sim):
    atac = sim.atac
    assert atac.shape == (PRESETS["tiny"]["n_cells"], PRESETS["tiny"]["n_peaks"])
    assert sparse.isspmatrix_csr(atac.X) and atac.X.dtype == np.float32
    counts = atac.X.data
    assert counts.min() >= 1 and np.all(counts == np.round(counts))
    density = atac.X.nnz / np.prod(atac.shape)
    assert 0.02 < density < 0.12
    assert sim.truth["summary"]["density"] == pytest.approx(density)
    for column in ("cell_type", "batch", "trajectory", "pseudotime", "depth", "total_counts", "n_open_peaks"):
        assert column in atac.obs
    for column in ("chrom", "start", "end", "gc", "peak_class", "bias", "n_motifs"):
        assert column in atac.var
    assert atac.obs["n_open_peaks"].to_numpy().tolist() == np.diff(atac.X.indptr).tolist()
    assert atac.obs["cell_type"].nunique() == PRESETS["tiny"]["n_cell_types"]
    assert atac.obs["batch"].nunique() == 2
    assert set(atac.var["peak_class"].unique()) == {"specific", "constitutive", "noise"}
    # peaks: fixed width, sorted, non-overlapping with gaps, named chrom:start-end
    var = atac.var
    assert np.all(var["end"] - var["start"] == 500)
    for _, group in var.groupby("chrom", observed=True):
        assert np.all(group["start"].to_numpy()[1:] > group["end"].to_numpy()[:-1])
    assert atac.var_names[0] == f"{var['chrom'].iloc[0]}:{var['start'].iloc[0]}-{var['end'].iloc[0]}"
    activity = atac.obsm["true_tf_activity"]
    assert isinstance(activity, pd.DataFrame) and list(activity.columns) == list(sim.truth["tf_names"])
    assert activity.shape == (atac.n_obs, len(sim.truth["tf_names"]))


def test_truth_keys(sim):
    truth = sim.truth
    assert truth is sim.atac.uns["simulation"]
    expected = {
        "format_version", "seed", "preset", "config", "cell_types", "batches", "cell_type", "batch", "pseudotime",
        "tfs", "activators", "repressors", "drivers", "repressor_of_type", "programs", "tf_names", "tf_activity",
        "motif_instances", "trajectories", "batch_effect", "p_sample", "summary", "gene_peak_links",
    }  # fmt: skip
    assert expected <= set(truth)
    assert truth["seed"] == 0 and sim.config == SimulationConfig.from_preset("tiny")
    assert set(truth["drivers"]) == set(sim.atac.obs["cell_type"].cat.categories)
    primaries = [drivers[0] for drivers in truth["drivers"].values()]
    assert len(set(primaries)) == len(primaries)  # one distinct primary driver per type
    assert set(primaries) <= set(truth["activators"])
    assert set(truth["repressor_of_type"].values()) <= set(truth["repressors"])
    instances = truth["motif_instances"]
    assert {"peak", "peak_name", "tf", "motif_id", "start", "end", "strand", "weight", "sequence"} <= set(instances)
    p = truth["p_sample"]
    assert p["p"].shape == (p["cell_index"].size, p["peak_index"].size)
    assert np.all((p["p"] > 0) & (p["p"] < 1))


def test_trajectory_cells(sim):
    obs = sim.atac.obs
    on = obs["pseudotime"].notna().to_numpy()
    assert 0 < on.sum() < len(obs)
    assert np.all((obs["pseudotime"][on] >= 0) & (obs["pseudotime"][on] <= 1))
    assert np.all(obs["trajectory"][~on] == "none") and np.all(obs["trajectory"][on] != "none")
    # a trajectory cell is labelled with the nearer end type
    name = obs["trajectory"][on].iloc[0]
    start, end = name.split("->")
    rows = (obs["trajectory"] == name).to_numpy()
    expected = np.where(obs["pseudotime"][rows] < 0.5, start, end)
    assert np.array_equal(obs["cell_type"][rows].astype(str).to_numpy(), expected)


def test_same_seed_identical_different_seed_differs(sim):
    again = simulate_atac("tiny", random_state=0)
    assert (again.atac.X != sim.atac.X).nnz == 0
    pd.testing.assert_frame_equal(again.atac.obs, sim.atac.obs)
    pd.testing.assert_frame_equal(again.atac.var, sim.atac.var)
    pd.testing.assert_frame_equal(again.truth["motif_instances"], sim.truth["motif_instances"])
    np.testing.assert_array_equal(again.truth["tf_activity"], sim.truth["tf_activity"])
    assert again.genome.fetch("chr1", 0, 10_000) == sim.genome.fetch("chr1", 0, 10_000)
    other = simulate_atac("tiny", random_state=1)
    assert other.genome.fetch("chr1", 0, 10_000) != sim.genome.fetch("chr1", 0, 10_000)
    assert other.atac.X.nnz != sim.atac.X.nnz or (other.atac.X != sim.atac.X).nnz > 0


def test_write_simulation_byte_identical(sim, tmp_path):
    first = write_simulation(sim, tmp_path / "a")
    second = write_simulation(simulate_atac("tiny", random_state=0), tmp_path / "b")
    assert set(first) == {"atac", "rna", "genome", "genome_index", "truth"}
    for name, path in first.items():
        assert path.is_file()
        digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (path, second[name])]
        assert digest[0] == digest[1], name
    assert not list((tmp_path / "a").glob(".*tmp"))  # no temporary files left behind
    truth = json.loads(first["truth"].read_text())
    assert truth["seed"] == 0 and truth["summary"]["n_cells"] == sim.atac.n_obs
    assert truth["motif_instances"]["columns"]["sequence"] == list(sim.truth["motif_instances"]["sequence"])
    pseudotime = truth["pseudotime"]
    assert pseudotime.count(None) == int(sim.atac.obs["pseudotime"].isna().sum())
    from seqatac.data._genome import Genome

    on_disk = Genome(first["genome"])
    assert on_disk.chrom_sizes == sim.genome.chrom_sizes
    assert on_disk.fetch("chr2", 1000, 3000) == sim.genome.fetch("chr2", 1000, 3000)


def test_uns_survives_h5ad_round_trip(sim, tmp_path):
    path = tmp_path / "atac.h5ad"
    sim.atac.write_h5ad(path)
    back = ad.read_h5ad(path).uns["simulation"]
    assert set(back) == set(sim.truth)
    _assert_same(back, sim.truth)
    json.loads(back["config"])  # config survives as JSON


def _assert_same(actual, expected, where="uns"):
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(actual, expected, check_dtype=False)
    elif isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            _assert_same(actual[key], expected[key], f"{where}/{key}")
    elif np.asarray(expected).dtype.kind == "f":
        np.testing.assert_array_equal(actual, expected, err_msg=where)  # NaN == NaN here
    else:
        assert np.array_equal(np.asarray(actual), np.asarray(expected)), where


def test_genome_composition(sim):
    codes = np.concatenate([encode_sequence(sim.genome.fetch(c, 0, n)) for c, n in sim.genome.chrom_sizes.items()])
    assert codes.max() < 4  # no N
    gc = float(gc_content(codes))
    assert gc == pytest.approx(0.41, abs=0.03)
    c, g = np.mean(codes == 1), np.mean(codes == 2)
    cpg_oe = np.mean((codes[:-1] == 1) & (codes[1:] == 2)) / (c * g)
    gpc_oe = np.mean((codes[:-1] == 2) & (codes[1:] == 1)) / (c * g)
    assert 0.15 < cpg_oe < 0.35  # human: ~0.24
    assert gpc_oe > 0.8  # GpC is not depleted: the depletion is CpG-specific
    assert sim.truth["summary"]["genome_gc"] == pytest.approx(gc)
    # peaks are GC-richer than the background
    assert sim.atac.var["gc"].mean() > gc + 0.02


def test_planted_motifs_are_in_the_genome(sim):
    instances = sim.truth["motif_instances"]
    var = sim.atac.var
    motifs = {m.id: m for m in jaspar(ids=list(sim.truth["tfs"]["motif_id"]))}
    matches, weights = [], []
    for row in instances.itertuples():
        peak = var.iloc[row.peak]
        assert row.peak_name == var.index[row.peak]
        site = sim.genome.fetch(peak["chrom"], peak["start"] + row.start, peak["start"] + row.end)
        assert site == row.sequence
        motif = motifs[row.motif_id]
        forward = encode_sequence(site if row.strand == "+" else reverse_complement(site))
        matches.append(np.mean(forward == motif.pfm.argmax(axis=1)))
        pwm = motif.pwm()
        weights.append(np.clip(pwm[np.arange(motif.length), forward].sum() / pwm.max(axis=1).sum(), 0, 1))
    assert np.mean(matches) > 0.7  # sites are drawn from the PFMs, so mostly consensus
    np.testing.assert_allclose(weights, instances["weight"], rtol=1e-5, atol=1e-6)
    # sites sit near the peak centre and never overlap within a peak
    centre = (instances["start"] + instances["end"]) / 2
    assert np.all(np.abs(centre - 250) <= 100)
    for _, group in instances.groupby("peak"):
        order = np.argsort(group["start"].to_numpy())
        assert np.all(group["start"].to_numpy()[order][1:] >= group["end"].to_numpy()[order][:-1])
    assert set(instances["strand"]) == {"+", "-"}
    classes = var["peak_class"].to_numpy()
    assert np.all(var["n_motifs"].to_numpy()[classes == "noise"] == 0)
    assert set(instances["tf"][classes[instances["peak"]] == "constitutive"]) == {"CTCF"}


def test_driver_motif_peaks_are_more_open_in_their_type(sim):
    is_open = _open(sim)
    strength = sim.atac.varm["true_motif_strength"]
    cell_type = sim.atac.obs["cell_type"].to_numpy()
    for type_name, drivers in sim.truth["drivers"].items():
        peaks = np.flatnonzero(strength[drivers[0]].to_numpy() > 0)
        in_type = cell_type == type_name
        inside = is_open[in_type][:, peaks].mean()
        outside = is_open[~in_type][:, peaks].mean()
        assert inside > 1.5 * outside, (type_name, inside, outside)
    # repressor sites are less open where the repressor is active
    for type_name, repressor in sim.truth["repressor_of_type"].items():
        driver_peaks = strength[sim.truth["drivers"][type_name][0]].to_numpy() > 0
        repressed = driver_peaks & (strength[repressor].to_numpy() > 0)
        free = driver_peaks & (strength[repressor].to_numpy() == 0)
        in_type = cell_type == type_name
        if repressed.sum() >= 5:
            assert is_open[in_type][:, repressed].mean() < is_open[in_type][:, free].mean()


def test_true_probability_matches_observed_frequency(sim):
    sample = sim.truth["p_sample"]
    observed = _open(sim)[sample["cell_index"]][:, sample["peak_index"]].toarray()
    assert observed.mean() == pytest.approx(sample["p"].mean(), rel=0.1)
    # calibration: cells × peaks in deciles of p open at about that rate
    p = sample["p"].ravel()
    high = p > np.quantile(p, 0.9)
    assert observed.ravel()[high].mean() == pytest.approx(p[high].mean(), abs=0.05)


def test_batch_effect_correlates_with_gc(sim):
    effect = sim.truth["batch_effect"]["effect"]
    gc = sim.atac.var["gc"].to_numpy()
    assert np.corrcoef(effect[1] - effect[0], gc)[0, 1] > 0.8
    is_open = _open(sim)
    batch = sim.atac.obs["batch"].to_numpy()
    rate = [np.asarray(is_open[batch == b].mean(axis=0)).ravel() + 1e-3 for b in ("batch0", "batch1")]
    assert np.corrcoef(np.log(rate[1] / rate[0]), gc)[0, 1] > 0.2
    without = simulate_atac("tiny", random_state=0, batch_gc_effect=0.0, rna=False)
    flat = without.truth["batch_effect"]["effect"]
    assert abs(np.corrcoef(flat[1] - flat[0], without.atac.var["gc"])[0, 1]) < 0.3


def test_paired_rna(sim):
    rna, truth = sim.rna, sim.truth
    assert rna is not None and list(rna.obs_names) == list(sim.atac.obs_names)
    assert sparse.isspmatrix_csr(rna.X) and rna.X.dtype == np.float32
    for column in ("chrom", "start", "end", "strand", "tss", "is_tf"):
        assert column in rna.var
    assert list(rna.var_names[: len(truth["tf_names"])]) == list(truth["tf_names"])
    expression = np.log1p(rna.X.toarray() / rna.X.sum(axis=1).A * 1e4)
    activity = sim.atac.obsm["true_tf_activity"]
    for drivers in truth["drivers"].values():
        tf = drivers[0]
        r = np.corrcoef(expression[:, rna.var_names.get_loc(tf)], activity[tf])[0, 1]
        assert r > 0.3, (tf, r)
    for repressor in set(truth["repressor_of_type"].values()):
        r = np.corrcoef(expression[:, rna.var_names.get_loc(repressor)], activity[repressor])[0, 1]
        assert r < -0.3, (repressor, r)
    links = truth["gene_peak_links"]
    promoters = links[links["is_promoter"]]
    assert np.all(np.abs(promoters["distance"]) <= 50)
    assert set(links["gene"]) <= set(rna.var_names[~rna.var["is_tf"].to_numpy()])
    # linked promoter accessibility and expression agree across cell types
    cell_type = sim.atac.obs["cell_type"].to_numpy()
    genes = [rna.var_names.get_loc(g) for g in promoters["gene"]]
    access = pd.DataFrame(_open(sim)[:, promoters["peak"].to_numpy()].toarray()).groupby(cell_type).mean()
    express = pd.DataFrame(expression[:, genes]).groupby(cell_type).mean()
    per_gene = [np.corrcoef(access[j], express[j])[0, 1] for j in range(len(genes)) if access[j].std() > 0.02]
    assert np.nanmean(per_gene) > 0.3


def test_overrides_and_errors():
    small = simulate_atac("tiny", random_state=0, n_cells=80, n_peaks=400, n_genes=20, rna=False)
    assert small.atac.shape == (80, 400) and small.rna is None
    assert json.loads(small.truth["config"])["n_cells"] == 80
    # tiny chunks: the CSR buffers sized from the first chunk must grow, and the matrix stays valid
    chunked = simulate_atac("tiny", random_state=0, chunk_size=7, rna=False).atac
    assert chunked.X.has_canonical_format and chunked.X.nnz == chunked.obs["n_open_peaks"].sum()
    assert chunked.X.nnz / np.prod(chunked.shape) == pytest.approx(0.05, abs=0.03)
    drawn = simulate_atac("tiny", random_state=np.random.default_rng(3), rna=False)
    assert isinstance(drawn.truth["seed"], int) and drawn.config == SimulationConfig.from_preset("tiny", rna=False)
    with pytest.raises(SeqatacInputError, match="n_celz"):
        simulate_atac("tiny", n_celz=10)
    with pytest.raises(SeqatacInputError, match="unknown simulation preset"):
        simulate_atac("huge")
    with pytest.raises(SeqatacInputError, match="activators"):
        SimulationConfig.from_preset("tiny", n_cell_types=20)
    with pytest.raises(SeqatacInputError, match="random_state"):
        simulate_atac("tiny", random_state=-1)
