"""ScBasset end to end on a tiny planted-motif dataset: learning, analyses, persistence, resume, AnnData."""

import json

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from seqatac import SeqatacInputError
from seqatac.data import Genome, Motif
from seqatac.metrics import auroc_auprc
from seqatac.models import ScBasset
from seqatac.models.scbasset import _train
from seqatac.tl import denoise

MOTIF = "TGACTCAT"
SMALL = dict(seq_len=200, n_filters_init=16, stem_kernel_size=9, n_tower_layers=2, filters_mult=1.25,
             n_filters_pre_bottleneck=16, bottleneck_size=8)
FIT = dict(batch_size=32, device="cpu", precision="fp32", n_threads=1, verbose=False)


def planted_data(n_peaks=600, n_cells=60, width=200, gap=50, seed=0):
    """Random 200 bp peaks, half carrying MOTIF near the centre; every cell opens motif peaks more often,
    cells of group "1" twice as strongly (logit +3 vs +1.5), on top of a per-cell depth."""
    rng = np.random.default_rng(seed)
    bases = rng.choice(list("ACGT"), size=(n_peaks, width))
    has_motif = np.zeros(n_peaks, dtype=bool)
    has_motif[rng.permutation(n_peaks)[: n_peaks // 2]] = True
    sites = rng.integers(40, width - 40 - len(MOTIF), n_peaks)
    for peak in np.flatnonzero(has_motif):
        bases[peak, sites[peak]:sites[peak] + len(MOTIF)] = list(MOTIF)
    spacer = "N" * gap
    chromosome = spacer + spacer.join("".join(row) for row in bases) + spacer
    starts = gap + np.arange(n_peaks) * (width + gap)
    group = np.arange(n_cells) % 2
    depth = rng.normal(0, 0.5, n_cells)
    logit = -2.5 + depth[:, None] + np.where(group[:, None] == 1, 3.0, 1.5) * has_motif[None, :]
    X = sp.csr_matrix((rng.random((n_cells, n_peaks)) < 1 / (1 + np.exp(-logit))).astype(np.float32))
    var = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + width},
                       index=[f"chr1:{s}-{s + width}" for s in starts])
    obs = pd.DataFrame({"group": pd.Categorical(group.astype(str)), "depth": depth,
                        "batch": pd.Categorical(np.where(np.arange(n_cells) < n_cells // 2, "a", "b"))},
                       index=[f"cell{i}" for i in range(n_cells)])
    truth = {"has_motif": has_motif, "sites": sites}
    return ad.AnnData(X=X, obs=obs, var=var), Genome.from_dict({"chr1": chromosome}), truth


@pytest.fixture(scope="module")
def trained():
    adata, genome, truth = planted_data()
    model = ScBasset(adata, genome, random_state=0, **SMALL)
    model.fit(max_epochs=30, **FIT)
    return model, adata, genome, truth


def test_learns_the_planted_motif(trained):
    model, adata, _, truth = trained
    assert len(model.history) == 30 and model.is_trained
    summary = model.evaluate("test")["summary"]
    assert summary["auroc_per_cell"] > 0.6  # held-out peaks
    assert summary["auroc_per_peak"] > 0.55
    # the intercept absorbs sequencing depth (paper: r ~ 0.98 with log depth)
    log_depth = np.log(np.asarray(adata.X.sum(axis=1)).ravel())
    assert np.corrcoef(model.get_cell_intercept(), log_depth)[0, 1] > 0.9
    # held-out motif peaks are predicted more open than motif-free ones, more so in the responding group
    test = model.splits["test"]
    denoised = model.get_denoised_accessibility(test)  # (cells, peaks), no intercept
    motif = truth["has_motif"][test]
    gap = denoised[:, motif].mean(axis=1) - denoised[:, ~motif].mean(axis=1)
    responders = adata.obs["group"].to_numpy() == "1"
    assert gap.min() > 0 and gap[responders].mean() > gap[~responders].mean()


def test_evaluate_matches_the_metrics_module(trained):
    model, adata, _, _ = trained
    result = model.evaluate("val")
    peaks = model.splits["val"]
    embedding = model.get_peak_embedding(peaks)
    scores = model.get_latent_representation() @ embedding.T + model.get_cell_intercept()[:, None]
    expected = auroc_auprc(adata.X[:, peaks], scores, axis=1)
    np.testing.assert_allclose(result["per_cell"]["auroc"], expected["auroc"], rtol=1e-5)
    np.testing.assert_allclose(result["per_cell"]["auprc"], expected["auprc"], rtol=1e-5)
    by_peak = auroc_auprc(adata.X[:, peaks], scores, axis=0)
    np.testing.assert_allclose(result["per_peak"]["auroc"], by_peak["auroc"], rtol=1e-5)
    assert list(result["per_peak"].index) == list(adata.var_names[peaks])


def test_tf_activity_and_ism_find_the_motif(trained):
    model, adata, _, truth = trained
    planted = Motif("P.1", "PLANTED", np.eye(4)[[("ACGT".index(b)) for b in MOTIF]])
    control = Motif("C.1", "CONTROL", np.eye(4)[[0, 0, 0, 0, 0, 0, 0, 0]])
    activity = model.get_tf_activity([planted, control], n_backgrounds=64, verbose=False)
    assert list(activity.columns) == ["PLANTED", "CONTROL"] and activity.index.equals(adata.obs_names)
    responders = adata.obs["group"].to_numpy() == "1"
    assert activity.loc[responders, "PLANTED"].mean() > activity.loc[~responders, "PLANTED"].mean() + 0.5
    raw = model.get_tf_activity([planted], n_backgrounds=64, zscore=False, verbose=False)
    assert (raw["PLANTED"] > 0).all()  # inserting the motif opens every cell
    # ISM of a held-out motif peak: the planted site carries the most importance for responding cells
    peak = next(p for p in model.splits["test"] if truth["has_motif"][p])
    row = adata.var.iloc[peak]
    scores = model.get_ism(region=(row["chrom"], row["start"], row["end"]))
    assert scores.shape == (1, adata.n_obs, 200)
    by_position = np.abs(scores[0, responders]).mean(axis=0)
    site = np.arange(truth["sites"][peak], truth["sites"][peak] + len(MOTIF))
    assert by_position[site].mean() > 2 * by_position.mean()
    # a sequence input gives the same numbers as the region
    sequence = model.genome.fetch(row["chrom"], row["start"], row["end"])
    np.testing.assert_allclose(model.get_ism(sequence, positions=site)[0], scores[0][:, site], rtol=1e-4,
                               atol=1e-5)


def test_save_and_load_give_identical_predictions(trained, tmp_path):
    model, adata, genome, _ = trained
    model.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["format_version"] == 1 and config["architecture"]["n_cells"] == adata.n_obs
    state = torch.load(tmp_path / "model" / "model.pt", weights_only=True)
    assert "cell_head.weight" in state
    with pytest.raises(SeqatacInputError, match="overwrite"):
        model.save(tmp_path / "model")
    loaded = ScBasset.load(tmp_path / "model", adata=adata, genome=genome)
    peaks = np.arange(0, 600, 7)
    np.testing.assert_array_equal(loaded.get_denoised_accessibility(peaks), model.get_denoised_accessibility(peaks))
    np.testing.assert_array_equal(loaded.get_latent_representation(), model.get_latent_representation())
    assert all(np.array_equal(loaded.splits[k], model.splits[k]) for k in ("train", "val", "test"))
    assert loaded.evaluate()["summary"] == model.evaluate()["summary"]
    pd.testing.assert_frame_equal(loaded.history, model.history)
    without_data = ScBasset.load(tmp_path / "model", genome=genome)
    with pytest.raises(SeqatacInputError, match="adata"):
        without_data.evaluate()
    with pytest.raises(SeqatacInputError, match="same order"):
        ScBasset.load(tmp_path / "model", adata=adata[::-1].copy())


def test_write_to_adata_and_h5ad_round_trip(trained, tmp_path):
    model, adata, _, _ = trained
    target = adata.copy()
    motif = Motif("P.1", "PLANTED", np.eye(4)[[0, 1, 2, 3]])
    activity = model.get_tf_activity([motif], n_backgrounds=8, verbose=False)
    model.write_to_adata(target, tf_activity=activity, motifs=[motif])
    assert target.obsm["X_scbasset"].shape == (adata.n_obs, 8)
    np.testing.assert_array_equal(target.obs["scbasset_intercept"], model.get_cell_intercept())
    assert isinstance(target.obsm["scbasset_tf"], pd.DataFrame)
    uns = target.uns["seqatac"]["scbasset"]
    assert json.loads(uns["params"]["architecture"])["seq_len"] == 200
    assert uns["tf_motifs"]["motif_id"].tolist() == ["P.1"]
    target.write_h5ad(tmp_path / "out.h5ad")
    back = ad.read_h5ad(tmp_path / "out.h5ad")
    np.testing.assert_array_equal(back.obsm["X_scbasset"], target.obsm["X_scbasset"])
    with pytest.raises(SeqatacInputError, match="cells"):
        model.write_to_adata(adata[:5].copy())


def test_denoise_to_layer_and_to_file(trained, tmp_path):
    model, adata, _, _ = trained
    target = adata.copy()
    denoise(target, model, layer="denoised", chunk_size=64, verbose=False)
    expected = model.get_denoised_accessibility(np.arange(adata.n_vars))
    np.testing.assert_allclose(target.layers["denoised"], expected, rtol=1e-6)
    peaks = adata.var_names[[3, 10, 500]]
    denoise(target, model, file=tmp_path / "d.h5", peaks=peaks, chunk_size=2, dtype="float16", verbose=False)
    with h5py.File(tmp_path / "d.h5") as handle:
        values = handle["denoised"][:]
        assert [v.decode() for v in handle["var_names"][:]] == list(peaks)
    assert values.dtype == np.float16
    np.testing.assert_allclose(values, expected[:, [3, 10, 500]], rtol=1e-3, atol=1e-3)
    with pytest.raises(SeqatacInputError, match="exactly one"):
        denoise(target, model, verbose=False)


def _small_model(**kwargs):
    adata, genome, _ = planted_data(n_peaks=200, n_cells=24)
    return ScBasset(adata, genome, random_state=1, **SMALL, **kwargs), adata


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path, monkeypatch):
    reference, _ = _small_model()
    reference.fit(max_epochs=3, **FIT)

    calls = {"n": 0}
    original = _train.Trainer._tensors

    def interrupt_in_epoch_2(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 11:  # 4th step of epoch 2 (an epoch: 6 training batches + 1 validation batch)
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    interrupted, _ = _small_model()
    monkeypatch.setattr(_train.Trainer, "_tensors", interrupt_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(max_epochs=3, checkpoint_dir=tmp_path, checkpoint_steps=2, **FIT)
    monkeypatch.setattr(_train.Trainer, "_tensors", original)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1 and state["position"] == 2  # a mid-epoch checkpoint

    resumed, _ = _small_model()  # a fresh process would rebuild the model the same way
    resumed.fit(max_epochs=3, checkpoint_dir=tmp_path, resume=True, **FIT)
    for key, value in reference.module.state_dict().items():
        assert torch.equal(value, resumed.module.state_dict()[key]), key
    columns = ["epoch", "train_loss", "train_auroc", "val_loss", "val_auroc"]
    pd.testing.assert_frame_equal(resumed.history[columns], reference.history[columns])


def test_each_epoch_is_a_global_shuffle(monkeypatch):
    model, _ = _small_model()
    seen = []
    original = _train.Trainer._tensors

    def record(self, peaks, cells, **kwargs):
        if kwargs:  # training batches carry augmentation arguments
            seen.append(np.asarray(peaks))
        return original(self, peaks, cells, **kwargs)

    monkeypatch.setattr(_train.Trainer, "_tensors", record)
    model.fit(max_epochs=2, **{**FIT, "batch_size": 30})
    train = model.splits["train"]  # 180 peaks: 6 batches per epoch
    first, second = np.concatenate(seen[:6]), np.concatenate(seen[6:])
    assert np.array_equal(np.sort(first), train) and np.array_equal(np.sort(second), train)
    assert not all(np.array_equal(a, b) for a, b in zip(seen[:6], seen[6:]))
    spread = [np.ptp(np.searchsorted(train, batch)) for batch in seen]
    assert min(spread) > 0.6 * len(train)  # every batch draws from the whole peak range


def test_batch_corrected_variant_and_cell_minibatches():
    adata, genome, _ = planted_data(n_peaks=200, n_cells=24)
    ScBasset.setup_anndata(adata, batch_key="batch")
    model = ScBasset(adata, genome, random_state=0, l2_cell=1e-6, **SMALL)
    plain = ScBasset(planted_data(n_peaks=200, n_cells=24)[0], genome, random_state=0, **SMALL)
    assert model.module.n_parameters == plain.module.n_parameters + 8 * 2 + 2
    assert model.batch_names == ["a", "b"]
    model.fit(max_epochs=2, cell_batch_size=10, **FIT)
    assert np.isfinite(model.history["train_loss"]).all() and "batch_key" in model.setup
    with pytest.raises(SeqatacInputError, match="batch_key"):
        ScBasset.setup_anndata(adata, batch_key="nope")
    with pytest.raises(SeqatacInputError, match="cell_batch_size"):
        model.fit(max_epochs=1, cell_batch_size=1000, **FIT)


def test_sequence_cache_memory_maps_the_peaks(tmp_path):
    adata, genome, _ = planted_data(n_peaks=40, n_cells=10)
    model = ScBasset(adata, genome, sequence_cache=tmp_path / "peaks.npy", **SMALL)
    codes = model._peak_codes()
    assert isinstance(codes, np.memmap) and codes.dtype == np.int8
    np.testing.assert_array_equal(codes, genome.encode_regions(adata.var, width=200))
    assert (tmp_path / "peaks.npy.json").is_file()


def test_argument_errors():
    adata, genome, _ = planted_data(n_peaks=50, n_cells=10)
    with pytest.raises(SeqatacInputError, match="unknown scBasset argument"):
        ScBasset(adata, genome, n_filter=3)
    model = ScBasset(adata, genome, **SMALL)
    with pytest.raises(SeqatacInputError, match="resume"):
        model.fit(resume=True)
    with pytest.raises(SeqatacInputError, match="200 bp"):
        model.get_ism("ACGT")
    with pytest.raises(SeqatacInputError, match="exactly one"):
        model.get_ism()
    # letters that are no DNA, or no base at all, would score every mutation 0 and exit 0
    with pytest.raises(SeqatacInputError, match="'X' at position 1, which is no DNA letter"):
        model.get_ism("X" * 200)
    with pytest.raises(SeqatacInputError, match="no A, C, G or T"):
        model.get_ism("N" * 200)
    with pytest.raises(SeqatacInputError, match="must lie in 0..4"):
        model.get_ism(np.full((1, 200), 7))
    # a region wider than the model's window was scored on its central 200 bp without a word
    chrom = adata.var["chrom"].iloc[0]
    with pytest.raises(SeqatacInputError, match=rf"{chrom}:1000-1500 is 500 bp but the model reads 200-bp windows"
                                                 rf".*e\.g\. its centre {chrom}:1150-1350"):
        model.get_ism(region=f"{chrom}:1000-1500")


def test_max_steps_bounds_training_and_resumes_to_the_uninterrupted_run(tmp_path, monkeypatch):
    steps = {"n": 0}
    original = _train.Trainer._tensors

    def count(self, peaks, cells, **kwargs):
        steps["n"] += bool(kwargs)  # training batches carry augmentation arguments
        return original(self, peaks, cells, **kwargs)

    monkeypatch.setattr(_train.Trainer, "_tensors", count)
    cut, _ = _small_model()  # 180 training peaks / 32: 6 steps per epoch
    cut.fit(max_epochs=5, max_steps=8, checkpoint_dir=tmp_path, **FIT)
    assert steps["n"] == 8 and cut.is_trained
    assert cut.history["epoch"].tolist() == [1]  # the cut-short second epoch is not recorded
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1 and state["position"] == 2

    cut.fit(max_epochs=5, max_steps=12, checkpoint_dir=tmp_path, resume=True, **FIT)
    assert steps["n"] == 12  # 4 more: the second epoch is completed, not restarted
    reference, _ = _small_model()
    reference.fit(max_epochs=2, **FIT)
    for key, value in reference.module.state_dict().items():
        assert torch.equal(value, cut.module.state_dict()[key]), key
    with pytest.raises(SeqatacInputError, match="max_steps"):
        reference.fit(max_steps=0, **FIT)
