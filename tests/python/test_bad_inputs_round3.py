"""Hostile input, round 3: data sets too small for an embedding, and issue 15's class 9 — numeric casts that
lose information, names that must be unique but are not, labels that are missing but used."""

import matplotlib

matplotlib.use("Agg")

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from seqatac import SeqatacInputError, pl
from seqatac.baselines import chromvar_deviations, gene_activity, lsi, spectral
from seqatac.cli import main
from seqatac.data import check_paired_rna, parse_regions, validate_atac
from seqatac.metrics import annotation_metrics
from seqatac.tl import layout_2d, merge_small_clusters, variable_peaks


def counts(n_cells=40, n_peaks=60, seed=0, dtype=np.float32):
    """Poisson counts (every cell has some) with peak names as coordinates."""
    X = np.random.default_rng(seed).poisson(0.6, (n_cells, n_peaks)).astype(dtype)
    X[:, 0] = 1
    adata = ad.AnnData(sp.csr_matrix(X))
    adata.var_names = [f"chr1:{100 * k}-{100 * k + 50}" for k in range(n_peaks)]
    adata.obs_names = [f"c{k}" for k in range(n_cells)]
    return adata


# ------------------------------------------------------------------------------------------ too few cells


@pytest.mark.parametrize("n_cells", [1, 2, 3])
def test_lsi_of_too_few_cells_names_the_problem(n_cells):
    with pytest.raises(SeqatacInputError, match=rf"LSI of {n_cells} cells? × 60 peaks is not possible: truncated "
                                                r"SVD needs more cells .*at least 5 cells and 5 peaks\. Fix: pass a "
                                                r"larger data set"):
        lsi(counts(n_cells))


def test_lsi_with_more_components_than_the_data_allows_says_how_many_fit():
    with pytest.raises(SeqatacInputError, match=r"LSI of 31 cells × 60 peaks cannot give n_components = 30.*"
                                                r"Fix: pass n_components between 3 and 29"):
        lsi(counts(31))
    with pytest.raises(SeqatacInputError, match=r"LSI of 40 cells × 4 peaks .*Fix: pass n_components between 1 and 2,"):
        lsi(counts(40, 4), scale_dims=False)


def test_one_cell_lsi_on_the_command_line_exits_2_with_the_reason(tmp_path, capsys):
    counts(1).write_h5ad(tmp_path / "one.h5ad")
    assert main(["-q", "lsi", "--atac", str(tmp_path / "one.h5ad"), "--out", str(tmp_path / "l.h5ad")]) == 2
    error = capsys.readouterr().err
    assert "LSI of 1 cell × 60 peaks is not possible" in error and "Fix:" in error and "< 0" not in error
    assert not (tmp_path / "l.h5ad").exists()


@pytest.mark.parametrize("n_cells", [1, 2, 3])
def test_spectral_of_too_few_cells_names_the_problem(n_cells):
    with pytest.raises(SeqatacInputError, match=rf"spectral embedding of {n_cells} cells? is not possible: .*"
                                                r"at least 4 cells\. Fix: pass a larger data set"):
        spectral(counts(n_cells))
    with pytest.raises(SeqatacInputError, match=r"spectral embedding of 6 cells cannot give n_components = 30.*"
                                                r"Fix: pass n_components between 2 and 4"):
        spectral(counts(6))


def test_spectral_of_peaks_open_in_every_cell_names_the_idf_not_missing_counts():
    adata = counts()
    adata.X = sp.csr_matrix(np.ones(adata.shape, np.float32))
    with pytest.raises(SeqatacInputError, match=r"40 cells .*have counts only in peaks open in all or all but one "
                                                r"of the cells, whose IDF weight .* is 0.*Fix: .*idf=False"):
        spectral(adata, n_components=5)


def test_a_layout_of_too_few_broken_or_identical_cells_names_the_problem():
    adata = ad.AnnData(np.zeros((3, 1), np.float32), obsm={"X_e": np.eye(3, 5)})
    with pytest.raises(SeqatacInputError, match=r"obsm\['X_e'\] has shape \(3, 5\): .*at least 4 cells.*Fix"):
        layout_2d(adata, use_rep="X_e", method="tsne")  # before: a raw ValueError from scikit-learn
    adata = ad.AnnData(np.zeros((20, 1), np.float32), obsm={"X_e": np.ones((20, 5))})
    with pytest.raises(SeqatacInputError, match=r"obsm\['X_e'\] is constant: all 20 cells have the same .*Fix"):
        layout_2d(adata, use_rep="X_e", method="tsne")  # before: t-SNE segfaulted
    embedding = np.random.default_rng(0).normal(size=(20, 5))
    embedding[4, 1] = np.nan
    with pytest.raises(SeqatacInputError, match=r"1 cell\(s\) with NaN or infinite values \(first: row 4\).*Fix"):
        layout_2d(ad.AnnData(np.zeros((20, 1), np.float32), obsm={"X_e": embedding}), use_rep="X_e", method="tsne")


# ------------------------------------------------------------------------------------------ numeric casts


def _damaged(kind):
    adata = counts()
    X = adata.X.toarray()
    X[2, 3] = {"NaN": np.nan, "infinite": np.inf, "negative": -2.0}[kind]
    adata.X = sp.csr_matrix(X)
    return adata


def _chromvar(adata):
    matches = sp.csr_matrix(np.random.default_rng(1).random((adata.n_vars, 3)) < 0.3)
    chromvar_deviations(adata, matches=matches, gc=np.linspace(0.3, 0.6, adata.n_vars), n_backgrounds=5)


def _gene_activity(adata):
    genes = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [2000], "strand": ["+"]}, index=["g"])
    gene_activity(adata, genes)


def _variable_peaks(adata):
    adata.obs["group"] = np.where(np.arange(adata.n_obs) % 2, "a", "b")
    variable_peaks(adata, groupby="group", n_top=5)


# before: LSI binarised a NaN, an infinite or a negative count into "open", spectral took NaN silently,
# chromVAR and gene activity summed them into NaN or negative results
@pytest.mark.parametrize("kind", ["NaN", "infinite", "negative"])
@pytest.mark.parametrize("method", [
    pytest.param(lambda a: lsi(a, n_components=5), id="lsi"),
    pytest.param(lambda a: spectral(a, n_components=5), id="spectral"),
    pytest.param(_chromvar, id="chromvar"),
    pytest.param(_gene_activity, id="gene_activity"),
    pytest.param(_variable_peaks, id="variable_peaks"),
])
def test_every_count_consumer_refuses_values_that_are_not_counts(method, kind):
    with pytest.raises(SeqatacInputError, match=rf"adata\.X has 1 {kind} values; .*raw, non-negative integer "
                                                r"counts\. Fix: put the raw count matrix in adata\.X"):
        method(_damaged(kind))


def test_a_float16_overflow_and_an_int8_wrap_are_named_as_the_cause():
    adata = counts()
    dense = adata.X.toarray().astype(np.float16)
    with np.errstate(over="ignore"):
        dense[0, 1] = np.float16(70_000)  # past float16's 65,504: inf
    adata.X = dense
    with pytest.raises(SeqatacInputError, match=r"1 infinite values \(the matrix is float16, which holds at most "
                                                r"65,504.*keep the counts as float32 or integers\)"):
        validate_atac(adata)
    wrapped = counts()
    dense = wrapped.X.toarray()
    dense[0, 1] = 200
    wrapped.X = dense.astype(np.int16).astype(np.int8)  # 200 wraps to -56
    with pytest.raises(SeqatacInputError, match=r"1 negative values \(the matrix is int8, which holds at most 127"):
        validate_atac(wrapped)


def test_float16_counts_embed_like_float32():
    adata = counts()
    reference = lsi(adata, n_components=5, copy=True).obsm["X_lsi"]
    adata.X = adata.X.toarray().astype(np.float16)  # before: scipy.sparse has no float16 (a raw ValueError)
    np.testing.assert_allclose(lsi(adata, n_components=5, copy=True).obsm["X_lsi"], reference, atol=1e-5)


def test_gene_activity_sums_narrow_integer_counts_without_wrapping():
    adata = counts(n_cells=3, n_peaks=4, dtype=np.uint8)
    adata.X = sp.csr_matrix(np.full((3, 4), 200, np.uint8))
    genes = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [400], "strand": ["+"]}, index=["g"])
    activity = gene_activity(adata, genes, upstream=0)
    assert activity.X.dtype == np.int64
    np.testing.assert_array_equal(activity.X.toarray().ravel(), [800, 800, 800])  # before: 800 % 256 = 32


@pytest.mark.parametrize(("var", "match"), [
    pytest.param(pd.Index(["chr1:99999999999999999999-99999999999999999999999"]),
                 r"1 of 1 peaks have a start in the name of 2\^53 or more .*far past the end of any chromosome\. "
                 r"Fix", id="name-beyond-int64"),  # before: a raw OverflowError
    pytest.param(pd.DataFrame({"chrom": ["chr1"], "start": [1e30], "end": [2e30]}, index=["p"]),
                 r"var\['start'\] of 2\^53 or more \(e\.g\. 'p': 1e\+30\)", id="float-beyond-int64"),  # before: "negative"
    pytest.param(pd.DataFrame({"chrom": ["chr1"], "start": [2**62], "end": [2**62 + 10]}, index=["p"]),
                 r"var\['start'\] of 2\^53 or more", id="int-past-float-precision"),  # before: "end <= start"
])
def test_coordinates_no_cast_can_hold_are_named(var, match):
    with pytest.raises(SeqatacInputError, match=match):
        parse_regions(var)


def test_large_real_coordinates_are_read_exactly():
    regions = parse_regions(pd.DataFrame({"chrom": ["chr1"], "start": [2**40 + 1], "end": [2**40 + 3]}, index=["p"]))
    assert (regions["start"].iloc[0], regions["end"].iloc[0]) == (2**40 + 1, 2**40 + 3)


# ------------------------------------------------------------------------------------------ unique names


def test_duplicated_peak_names_at_different_coordinates_are_refused():
    adata = counts(n_peaks=4)
    adata.var = pd.DataFrame({"chrom": ["chr1"] * 4, "start": [0, 100, 200, 300], "end": [50, 150, 250, 350]},
                             index=["p1", "p1", "p2", "p3"])
    with pytest.raises(SeqatacInputError, match=r"1 peak names are duplicated \(e\.g\. 'p1'\) although the peaks lie "
                                                r"at different coordinates.*Fix: give each peak a unique name"):
        validate_atac(adata)


# ------------------------------------------------------------------------------------------ paired RNA values


def test_paired_rna_values_that_are_not_counts_are_refused_where_they_are_used():
    atac = counts(n_cells=5)
    X = np.ones((5, 3), np.float32)
    X[1, 2] = np.nan
    rna = ad.AnnData(X, obs=pd.DataFrame(index=atac.obs_names))
    rna.var_names = ["g1", "g2", "g3"]
    with pytest.raises(SeqatacInputError, match=r"rna\.X has 1 NaN values.*Fix: put the raw count matrix in rna\.X "
                                                r"\(e\.g\. rna\.X = rna\.layers\['counts'\]"):
        check_paired_rna(atac, rna)
    check_paired_rna(atac, rna, values=False)  # only the cells are compared
    rna.var = pd.DataFrame({"chrom": ["chr1"] * 3, "start": [0, 1000, 2000], "end": [500, 1500, 2500],
                            "strand": ["+"] * 3}, index=rna.var_names)
    rna.X = -np.ones((5, 3), np.float32)  # scaled RNA: gene activity only reads its genes
    assert gene_activity(atac, rna).shape == (5, 3)


# ------------------------------------------------------------------------------------------ missing labels


def test_plots_refuse_missing_groups_instead_of_drawing_a_nan_group():
    activity = pd.DataFrame(np.random.default_rng(0).normal(size=(4, 2)), columns=["TF1", "TF2"])
    with pytest.raises(SeqatacInputError, match=r"groups has 1 missing value\(s\) .*Fix: drop those cells or fill"):
        pl.tf_activity_heatmap(activity, np.array(["a", None, "b", "a"], dtype=object))
    with pytest.raises(SeqatacInputError, match=r"y_true has 1 missing value\(s\)"):
        pl.confusion_matrix(pd.Series(["a", np.nan, "b"]), np.array(["a", "b", "b"]))
    with pytest.raises(SeqatacInputError, match=r"y_pred\['knn'\] has 1 missing value\(s\)"):
        pl.confusion_matrix(np.array(["a", "b", "b"]), {"knn": np.array(["a", "", "b"])})


def test_tools_refuse_missing_cluster_labels():
    adata = counts()
    adata.obs["group"] = pd.Categorical(np.where(np.arange(40) % 2, "a", "b"))
    adata.obs.loc["c3", "group"] = np.nan
    with pytest.raises(SeqatacInputError, match=r"obs\['group'\] has 1 missing value\(s\) .*first at position 3"):
        variable_peaks(adata, groupby="group")  # before: the cell formed a cluster of its own, "nan"
    adata.obsp["snn"] = sp.identity(40, format="csr")
    with pytest.raises(SeqatacInputError, match=r"clusters has 1 missing value\(s\)"):
        merge_small_clusters(adata, key="group", graph="snn", min_cells=2)  # before: a raw ValueError (bincount)


def test_metrics_treat_a_blank_label_as_missing():
    with pytest.raises(SeqatacInputError, match=r"y_true has 1 missing value\(s\) \(NaN, None or empty"):
        annotation_metrics(np.array(["a", " ", "b", "b"]), np.array(["a", "a", "b", "b"]))


def test_cellspace_groups_with_a_missing_label_are_refused():
    from types import SimpleNamespace

    from seqatac.models.cellspace._denovo import _cell_groups

    model = SimpleNamespace(cell_names=pd.Index(["c0", "c1", "c2"]))
    with pytest.raises(SeqatacInputError, match=r"groups has 1 missing value\(s\)"):
        _cell_groups(model, np.array(["a", np.nan, "b"], dtype=object))  # before: a group named "nan"


def test_a_scbasset_batch_missing_after_setup_is_refused_not_given_the_last_batch():
    from seqatac.models import ScBasset
    from seqatac.simulate import simulate_atac

    sim = simulate_atac("tiny", random_state=0, n_cells=30, n_peaks=200, rna=False)
    atac = sim.atac
    atac.obs["batch"] = atac.obs["batch"].astype(str)
    ScBasset.setup_anndata(atac, batch_key="batch")
    atac.obs.loc[atac.obs_names[0], "batch"] = None  # edited after setup: its code would be -1, the last batch
    with pytest.raises(SeqatacInputError, match=r"obs\['batch'\] has 1 missing value\(s\)"):
        ScBasset(atac, sim.genome, random_state=0, seq_len=200, n_filters_init=8, stem_kernel_size=9,
                 n_tower_layers=1, filters_mult=1.0, n_filters_pre_bottleneck=8, bottleneck_size=4)


def test_epifoundation_refuses_a_missing_batch_and_skips_blank_labels_instead_of_learning_them():
    from seqatac.models import EpiFoundation
    from test_epifoundation import TINY, planted_data

    atac, rna = planted_data(n_cells=30)
    atac.obs["batch"] = atac.obs["batch"].astype(str)
    EpiFoundation.setup_anndata(atac, batch_key="batch", labels_key="cell_type")
    edited = atac.copy()
    edited.obs.loc[edited.obs_names[0], "batch"] = np.nan  # after setup: before, it became a batch named "nan"
    with pytest.raises(SeqatacInputError, match=r"obs\['batch'\] \(the batches\) has 1 missing value\(s\)"):
        EpiFoundation(edited, rna, random_state=0, **TINY)
    with pytest.raises(SeqatacInputError, match=r"has 1 missing value"):
        EpiFoundation.setup_anndata(edited, batch_key="batch")

    atac.obs["cell_type"] = atac.obs["cell_type"].astype(str)
    atac.obs.loc[atac.obs_names[:4], "cell_type"] = ["", "  ", "\t", ""]  # blank: missing, not a type
    model = EpiFoundation(atac, rna, random_state=0, **TINY)
    model.fit("annotate", max_epochs=1, max_cells=16, max_tokens=512, verbose=False)
    assert model.cell_types == sorted(set(atac.obs["cell_type"][4:]))  # no "" or " " type
    used = model.params["annotate_training"]
    assert used["n_training_cells"] + used["n_validation_cells"] == 26


# ------------------------------------------------------------------- outputs that would destroy an input


def test_an_output_path_that_is_an_input_is_refused_and_the_input_kept(tmp_path, capsys):
    data = tmp_path / "atac.h5ad"
    counts(40).write_h5ad(data)
    before = data.read_bytes()
    linked = tmp_path / "link.h5ad"
    linked.symlink_to(data)
    for argv, option in ((["lsi", "--atac", str(data), "--out", str(data)], "--out"),
                         (["lsi", "--atac", str(data), "--out", str(linked)], "--out"),  # the same file by a link
                         (["transfer-labels", "--reference", str(data), "--query", str(data), "--label-key", "x",
                           "--csv", str(data), "--out", str(tmp_path / "q.h5ad")], "--csv")):
        assert main(argv) == 2
        assert f"{option} " in capsys.readouterr().err
        assert data.read_bytes() == before
    assert not (tmp_path / "q.h5ad").exists()


def test_seeds_outside_what_the_generators_take_are_refused_by_the_parser(tmp_path, capsys):
    data = tmp_path / "atac.h5ad"
    counts(40).write_h5ad(data)
    for value in ("-1", str(2**32), "1.5"):
        with pytest.raises(SystemExit) as exit_:
            main(["lsi", "--atac", str(data), "--seed", value, "--out", str(tmp_path / "l.h5ad")])
        assert exit_.value.code == 2
        assert "--seed" in capsys.readouterr().err


def test_a_failed_run_removes_the_missing_parents_it_created(tmp_path):
    out = tmp_path / "new" / "deeper" / "sim"
    assert main(["simulate", "--preset", "tiny", "--set", "n_cells=0", "--out", str(out)]) == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("setting, match", [
    ("n_cells=abc", "n_cells = 'abc'; it must be a whole number"),
    ("n_cells=20.5", "n_cells = 20.5; it must be a whole number"),
    ("background_gc=nan", "background_gc = 'nan'; it must be a finite number"),
    ("activators=NOTATF", "activators = 'NOTATF'; give a list of TF names"),
])
def test_simulation_settings_of_the_wrong_kind_are_named_not_a_traceback(tmp_path, capsys, setting, match):
    assert main(["simulate", "--preset", "tiny", "--set", setting, "--out", str(tmp_path / "sim")]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "sim").exists()


def test_model_settings_that_are_no_number_or_no_option_are_refused_cleanly():
    from seqatac.models.cellspace import CellSpaceConfig
    from seqatac.models.scbasset import ScBassetConfig

    for value in ("ten", float("inf"), float("nan"), True):
        with pytest.raises(SeqatacInputError, match="n_latent=.* must be a positive integer"):
            CellSpaceConfig(n_latent=value)
    with pytest.raises(SeqatacInputError, match="seq_len='abc' must be an integer"):
        ScBassetConfig(n_cells=10, seq_len="abc")
    for value in ("x", float("nan"), True):
        with pytest.raises(SeqatacInputError, match=r"filters_mult=.* must be a finite number"):
            ScBassetConfig(n_cells=10, filters_mult=value)


def test_a_negative_start_in_a_peak_name_is_no_coordinate_not_a_chromosome_named_chr1_colon():
    with pytest.raises(SeqatacInputError, match=r"cannot be parsed as coordinates \(e.g. 'chr1:-500-2500'\)"):
        parse_regions(pd.Index(["chr1:100-500", "chr1:-500-2500"]))
    parsed = parse_regions(pd.Index(["chr1_random:5-9", "chrUn_gl1-3-7"]))
    assert parsed["chrom"].tolist() == ["chr1_random", "chrUn_gl1"]


def test_a_silhouette_of_labels_that_no_two_cells_share_names_the_problem():
    from seqatac.metrics import silhouette_label

    X = np.random.default_rng(0).normal(size=(12, 3))
    with pytest.raises(SeqatacInputError, match="each of the 12 cells its own value.*pass cell types"):
        silhouette_label(X, [f"cell{k}" for k in range(12)])
