"""seqatac.r: AnnData results to R .rds (rpy2 + anndata2ri) and back, and the parts the R package's h5ad
functions move through reticulate. The .rds tests skip when rpy2, anndata2ri or R's SingleCellExperiment
is missing (pip install "seqatac[r]"; `make test-r` installs them)."""

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import seqatac.r as bridge
from seqatac import SeqatacInputError

EXTDATA = Path(__file__).resolve().parents[2] / "inst" / "extdata"


@pytest.fixture()
def results() -> ad.AnnData:
    """The shipped example with results where the engine writes them: an scBasset embedding and TF table
    (motif ids in uns, two motifs sharing a name), and the simulated TF activity."""
    adata = ad.read_h5ad(EXTDATA / "tiny_atac.h5ad")
    rng = np.random.default_rng(0)
    adata.obsm["X_scbasset"] = rng.normal(size=(adata.n_obs, 4))
    columns = ["CEBPA", "HNF4A_MA0114.5", "HNF4A_MA1494.2"]
    adata.obsm["scbasset_tf"] = pd.DataFrame(rng.normal(size=(adata.n_obs, 3)), index=adata.obs_names, columns=columns)
    adata.uns["seqatac"] = {"scbasset": {
        "tf_motifs": pd.DataFrame({"column": columns, "motif_id": ["MA0102.5", "MA0114.5", "MA1494.2"],
                                   "motif_name": ["CEBPA", "HNF4A", "HNF4A"]}),
        "model_dir": "/models/scbasset"}}
    return adata


# ------------------------------------------------------------------ parts (no R needed)


def test_parts_round_trip_keeps_matrices_tables_ranges_and_results(results):
    parts = bridge.anndata_parts(results)
    assert parts["assays"]["counts"]["sparse"] and parts["ranges"]["chrom"][0] == "chr1"
    assert parts["ranges"]["start"][0] == results.var["start"].iloc[0]  # 0-based on this side
    assert "chrom" not in parts["var"]  # coordinates travel once, as ranges
    assert set(parts["reduced_dims"]) == {"scBasset"}
    assert set(parts["alt_exps"]) == {"scBassetTF", "trueTF"}
    tf = parts["alt_exps"]["scBassetTF"]
    assert tf["assays"]["activity"].shape == (3, results.n_obs)  # rows x cells, as R stores it
    assert list(tf["row_data"]["motif_id"]["values"]) == ["MA0102.5", "MA0114.5", "MA1494.2"]
    assert parts["obs"]["cell_type"]["type"] == "factor"

    # what R sends back has the same layout (x names the assay that becomes X)
    back = bridge.anndata_from_parts({**parts, "x": "counts", "var_names": parts["var_names"],
                                      "alt_exps": {name: {**entry, "assays": {a: m.T for a, m in entry["assays"].items()}}
                                                   for name, entry in parts["alt_exps"].items()}})
    assert (back.X != results.X).nnz == 0
    np.testing.assert_array_equal(back.var["start"], results.var["start"])
    np.testing.assert_allclose(back.obsm["X_scbasset"], results.obsm["X_scbasset"])
    pd.testing.assert_frame_equal(back.obsm["scbasset_tf"], results.obsm["scbasset_tf"], check_dtype=False)
    assert list(back.obs["cell_type"].cat.categories) == list(results.obs["cell_type"].cat.categories)
    again = bridge.anndata_parts(back)
    assert list(again["alt_exps"]) == list(parts["alt_exps"])  # order recorded
    assert list(again["alt_exps"]["scBassetTF"]["row_data"]["motif_id"]["values"]) == ["MA0102.5", "MA0114.5", "MA1494.2"]


def test_missing_values_and_factor_levels_survive_the_parts():
    parts = {
        "obs_names": ["a", "b", "c"], "var_names": ["chr1:0-10"], "x": "counts",
        "assays": {"counts": {"sparse": False, "values": np.ones((3, 1)), "shape": [3, 1]}},
        "obs": {"kind": {"type": "factor", "codes": np.array([0, -1, 1]), "levels": ["x", "y"]},
                "flag": {"type": "logical", "values": np.array([True, False, False]), "missing": np.array([False, True, False])},
                "count": {"type": "integer", "values": np.array([1.0, 0.0, 3.0]), "missing": np.array([False, True, False])},
                "name": {"type": "character", "values": ["p", "", "r"], "missing": np.array([False, True, False])}},
        "ranges": None, "reduced_dims": {}, "alt_exps": {}, "metadata": {"note": "kept", "empty": None},
    }
    with pytest.warns(Warning, match="empty"):
        adata = bridge.anndata_from_parts(parts)
    assert adata.obs["kind"].isna().tolist() == [False, True, False]
    assert adata.obs["flag"].isna().tolist() == [False, True, False]
    assert adata.obs["count"].tolist()[2] == 3 and pd.isna(adata.obs["count"].iloc[1])
    assert adata.obs["name"].isna().tolist() == [False, True, False]
    assert adata.uns["note"] == "kept"
    column = bridge.anndata_parts(adata)["obs"]["kind"]
    assert column["codes"].tolist() == [0, -1, 1] and column["levels"] == ["x", "y"]


def test_output_capture_drops_printed_output_and_returns_warnings():
    import sys
    import warnings

    capture = bridge.OutputCapture(verbose=False).start()
    print("progress 50%")
    sys.stderr.write("bar\n")
    warnings.warn("careful", UserWarning)
    assert capture.stop() == ["UserWarning: careful"]
    assert "progress 50%" in capture.printed and "bar" in capture.printed
    loud = bridge.OutputCapture(verbose=True).start()
    print("shown")
    assert loud.stop() == [] and loud.printed == ""


# ------------------------------------------------------------------ .rds through rpy2


@pytest.fixture(scope="module")
def r():
    pytest.importorskip("rpy2", reason='the .rds bridge needs rpy2: pip install "seqatac[r]"')
    pytest.importorskip("anndata2ri", reason='the .rds bridge needs anndata2ri: pip install "seqatac[r]"')
    from seqatac.r._rds import _r

    try:
        return _r()
    except SeqatacInputError as err:
        pytest.skip(str(err))


def test_write_rds_gives_a_single_cell_experiment_with_ranges_reduced_dims_and_alt_exps(r, results, tmp_path):
    path = tmp_path / "results.rds"
    bridge.write_rds(results, path)
    r.globalenv["path"] = str(path)
    summary = r.r("""
        x <- readRDS(path)
        tf <- SingleCellExperiment::altExp(x, "scBassetTF")
        list(class = class(x)[[1]], assays = SummarizedExperiment::assayNames(x),
             reduced = SingleCellExperiment::reducedDimNames(x), alt = SingleCellExperiment::altExpNames(x),
             start = BiocGenerics::start(SummarizedExperiment::rowRanges(x)),
             end = BiocGenerics::end(SummarizedExperiment::rowRanges(x)),
             cells = colnames(x), tf_rows = rownames(tf), motif_id = SummarizedExperiment::rowData(tf)$motif_id,
             tf_value = SummarizedExperiment::assay(tf, "activity")[2, 5],
             embedding = SingleCellExperiment::reducedDim(x, "scBasset")[5, 3],
             counts_class = class(SummarizedExperiment::assay(x, "counts"))[[1]],
             model_dir = S4Vectors::metadata(x)$seqatac$scbasset$model_dir)
    """)
    get = lambda name: list(summary.rx2(name))
    assert get("class") == ["SingleCellExperiment"]
    assert get("assays") == ["counts"]
    assert get("reduced") == ["scBasset"]
    assert set(get("alt")) == {"scBassetTF", "trueTF"}
    np.testing.assert_array_equal(get("start"), results.var["start"].to_numpy() + 1)  # 1-based in R
    np.testing.assert_array_equal(get("end"), results.var["end"].to_numpy())
    assert get("cells") == list(results.obs_names)
    assert get("tf_rows") == list(results.obsm["scbasset_tf"].columns)
    assert get("motif_id") == ["MA0102.5", "MA0114.5", "MA1494.2"]
    assert get("tf_value")[0] == pytest.approx(results.obsm["scbasset_tf"].iloc[4, 1])
    assert get("embedding")[0] == pytest.approx(results.obsm["X_scbasset"][4, 2])
    assert get("counts_class") == ["dgCMatrix"]
    assert get("model_dir") == ["/models/scbasset"]


def test_rds_round_trip_gives_the_anndata_back(r, results, tmp_path):
    path = tmp_path / "results.rds"
    bridge.write_rds(results, path)
    back = bridge.read_rds(path)
    assert list(back.obs_names) == list(results.obs_names) and list(back.var_names) == list(results.var_names)
    assert (sp.csr_matrix(back.X) != results.X).nnz == 0
    for column in ("chrom", "start", "end"):
        assert back.var[column].astype(str).tolist() == results.var[column].astype(str).tolist()
    np.testing.assert_allclose(back.obsm["X_scbasset"], results.obsm["X_scbasset"])
    pd.testing.assert_frame_equal(back.obsm["scbasset_tf"], results.obsm["scbasset_tf"], check_dtype=False)
    row_data = back.uns["seqatac_r"]["alt_exps"]["scBassetTF"]["row_data"]
    assert row_data["motif_id"].tolist() == ["MA0102.5", "MA0114.5", "MA1494.2"]
    assert back.obs["cell_type"].tolist() == results.obs["cell_type"].tolist()
    # and it is an AnnData like any other: it writes to h5ad and the R package's reader finds the same
    file = tmp_path / "back.h5ad"
    back.write_h5ad(file)
    parts = bridge.read_h5ad_parts(file)
    assert list(parts["alt_exps"]["scBassetTF"]["row_data"]["motif_id"]["values"]) == ["MA0102.5", "MA0114.5", "MA1494.2"]
    assert "scBasset" in parts["reduced_dims"]


def test_read_rds_takes_a_seurat_object_with_signac_peak_names(r, tmp_path):
    if not bool(r.r('isTRUE(requireNamespace("SeuratObject", quietly = TRUE))')[0]):
        pytest.skip("R lacks SeuratObject")
    path = tmp_path / "seurat.rds"
    r.globalenv["path"] = str(path)
    r.r("""
        counts <- Matrix::sparseMatrix(i = c(1, 2, 3, 1), j = c(1, 2, 3, 3), x = c(1, 2, 1, 4), dims = c(3L, 3L),
                                       dimnames = list(c("chr1-2001-2500", "chr1-3001-3600", "chr2-11-500"),
                                                       paste0("cell", 1:3)))
        seurat <- SeuratObject::CreateSeuratObject(counts, assay = "peaks")
        seurat$cell_type <- c("B", "T", "B")
        embedding <- matrix(c(0.1, 0.2, 0.3, 1, 2, 3), 3, dimnames = list(colnames(seurat), c("lsi_1", "lsi_2")))
        seurat[["lsi"]] <- SeuratObject::CreateDimReducObject(embeddings = embedding, key = "lsi_", assay = "peaks")
        activity <- matrix(c(1, 2, 3, 4, 5, 6), 2, dimnames = list(c("CEBPA", "GATA1"), colnames(seurat)))
        seurat[["chromvar"]] <- SeuratObject::CreateAssayObject(data = activity)
        saveRDS(seurat, path)
    """)
    adata = bridge.read_rds(path)
    assert adata.shape == (3, 3)
    assert adata.var["start"].tolist() == [2000, 3000, 10]  # Signac names are 1-based: chr1-2001-2500 = [2000, 2500)
    assert adata.var["end"].tolist() == [2500, 3600, 500]
    assert adata.obs["cell_type"].tolist() == ["B", "T", "B"]
    np.testing.assert_allclose(adata.obsm["X_lsi"][:, 1], [1, 2, 3])
    assert list(adata.obsm["chromvar"].columns) == ["CEBPA", "GATA1"]
    assert adata.obsm["chromvar"].loc["cell2", "GATA1"] == 4


def test_read_rds_takes_an_archr_style_summarized_experiment(r, tmp_path):
    path = tmp_path / "archr.rds"
    r.globalenv["path"] = str(path)
    r.r("""
        counts <- Matrix::sparseMatrix(i = c(1, 2, 2), j = c(1, 1, 2), x = c(2, 1, 5), dims = c(2L, 2L))
        colnames(counts) <- c("s1#AAAC", "s1#AAAG")
        ranges <- GenomicRanges::GRanges("chr5", IRanges::IRanges(c(101, 601), c(600, 1100)))
        se <- SummarizedExperiment::SummarizedExperiment(list(PeakMatrix = counts), rowRanges = ranges)
        saveRDS(se, path)
    """)
    adata = bridge.read_rds(path)
    assert adata.shape == (2, 2)
    assert adata.X[1, 1] == 5  # PeakMatrix became X
    assert adata.var["start"].tolist() == [100, 600] and adata.var["chrom"].astype(str).tolist() == ["chr5", "chr5"]
    assert list(adata.obs_names) == ["s1#AAAC", "s1#AAAG"]


def test_read_rds_explains_what_it_cannot_read(r, tmp_path):
    with pytest.raises(SeqatacInputError, match="does not exist"):
        bridge.read_rds(tmp_path / "none.rds")
    path = tmp_path / "frame.rds"
    r.globalenv["path"] = str(path)
    r.r("saveRDS(data.frame(a = 1), path)")
    with pytest.raises(SeqatacInputError, match="holds a data.frame, not a SingleCellExperiment"):
        bridge.read_rds(path)
