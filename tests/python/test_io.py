"""Tests for seqatac.data I/O: read_atac/read_multiome, validation, binarize, filtering, pairing."""

import gzip
import warnings

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp
from seqatac import SeqatacInputError, SeqatacWarning
from seqatac.data import (
    add_peak_coordinates,
    binarize,
    check_paired_rna,
    filter_cells,
    filter_peaks,
    parse_regions,
    read_atac,
    read_multiome,
    validate_atac,
)

# 4 cells x 3 peaks; the last peak lives on a contig whose name contains "_"
COUNTS = np.array([[1, 0, 2], [0, 0, 3], [4, 5, 0], [0, 1, 0]], dtype=np.float32)
PEAKS = [("chr1", 100, 200), ("chr1", 300, 450), ("chrUn_gl000220", 10, 60)]
PEAK_NAMES = [f"{c}:{s}-{e}" for c, s, e in PEAKS]
BARCODES = ["AAAC-1", "AAAG-1", "AAAT-1", "AACA-1"]


def assert_matches_fixture(adata):
    assert adata.shape == COUNTS.shape
    assert sp.isspmatrix_csr(adata.X) and adata.X.dtype == np.float32
    np.testing.assert_array_equal(adata.X.toarray(), COUNTS)
    assert list(adata.obs_names) == BARCODES
    assert list(adata.var_names) == PEAK_NAMES
    assert list(zip(adata.var["chrom"], adata.var["start"], adata.var["end"])) == PEAKS
    assert adata.var["start"].dtype == np.int64


def small_adata(counts=COUNTS, names=PEAK_NAMES):
    return ad.AnnData(
        X=sp.csr_matrix(counts), obs=pd.DataFrame(index=BARCODES[: len(counts)]),
        var=pd.DataFrame(index=names),
    )


# --- 10x writers (layouts as in the 10x HDF5 / MEX documentation) ---------------------------------


def write_10x_h5(path, counts, barcodes, features, *, group="matrix"):
    """counts: cells x features; stored as CSC features x cells (= CSR cells x features)."""
    matrix = sp.csr_matrix(counts)
    with h5py.File(path, "w") as handle:
        g = handle.create_group(group)
        g["barcodes"] = np.array(barcodes, dtype="S")
        g["data"] = matrix.data.astype(np.uint32)
        g["indices"] = matrix.indices.astype(np.int64)
        g["indptr"] = matrix.indptr.astype(np.int64)
        g["shape"] = np.array([counts.shape[1], counts.shape[0]], dtype=np.int32)
        if group == "matrix":
            f = g.create_group("features")
            for key, values in features.items():
                f[key] = np.array(values, dtype="S")
        else:
            for key, values in features.items():
                g[key] = np.array(values, dtype="S")


def write_mex(
    directory, *, peaks_by_cells=True, gz=False, names=("matrix.mtx", "peaks.bed", "barcodes.tsv")
):
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    matrix = sp.coo_matrix(COUNTS.T if peaks_by_cells else COUNTS)
    plain = directory / "tmp.mtx"
    scipy.io.mmwrite(plain, matrix)
    bed = "# header line\n" + "".join(f"{c}\t{s}\t{e}\n" for c, s, e in PEAKS)
    barcodes = "".join(f"{b}\n" for b in BARCODES).encode()
    texts = {names[0]: plain.read_bytes(), names[1]: bed.encode(), names[2]: barcodes}
    plain.unlink()
    paths = []
    for name, content in texts.items():
        path = directory / (name + suffix)
        path.write_bytes(gzip.compress(content) if gz else content)
        paths.append(path)
    return paths  # matrix, peaks, barcodes


# --- real fixtures ---------------------------------------------------------------------------------


def test_read_example_counts_fixture(shared_data):
    path = shared_data / "example_counts.h5ad"
    raw = ad.read_h5ad(path)
    adata = read_atac(path)
    assert adata.shape == (50, 29269)
    assert sp.isspmatrix_csr(adata.X) and adata.X.dtype == np.float32
    assert adata.X.sum() == raw.X.sum()
    assert adata.obs["Cell_Type"].value_counts().to_dict() == {"GM": 25, "H1": 25}
    assert "chrom" not in adata.var  # the user's "chr" column holds the chromosomes; no second one is added
    np.testing.assert_array_equal(adata.var["chr"].astype(str), raw.var["chr"].astype(str))
    np.testing.assert_array_equal(adata.var["start"], raw.var["start"])
    assert adata.var["end"].dtype == np.int64
    assert ((adata.var["end"] - adata.var["start"]) == 500).all()


def test_read_atac_small_fixture_names_agree_with_columns(shared_data):
    path = shared_data / "atac_small_peaks.h5ad"
    adata = read_atac(path)
    assert adata.shape == (100, 323)
    assert adata.var_names[0] == "chr1-713460-714823"
    # the Signac names (chr-start-end) and the var columns carry the same numbers
    from_names = parse_regions(adata.var_names)
    pd.testing.assert_frame_equal(from_names, parse_regions(adata.var))
    assert set(adata.var["chr"]) == {"chr1"} and "chrom" not in adata.var


# --- 10x HDF5 --------------------------------------------------------------------------------------


def test_read_10x_atac_h5(tmp_path):
    path = tmp_path / "filtered_peak_bc_matrix.h5"
    features = {
        "id": PEAK_NAMES, "name": PEAK_NAMES, "feature_type": ["Peaks"] * 3, "genome": ["hg38"] * 3
    }
    write_10x_h5(path, COUNTS, BARCODES, features)
    adata = read_atac(path)
    assert_matches_fixture(adata)
    assert (adata.var["genome"] == "hg38").all()


def test_read_10x_h5_older_genome_group_layout(tmp_path):
    path = tmp_path / "filtered_peak_bc_matrix.h5"
    write_10x_h5(path, COUNTS, BARCODES, {"peaks": PEAK_NAMES}, group="hg19")
    adata = read_atac(path, format="10x_h5")
    assert_matches_fixture(adata)
    assert (adata.var["genome"] == "hg19").all()


def multiome_file(path, *, with_peaks=True):
    genes = np.array([[0, 7], [2, 0], [0, 0], [1, 1]], dtype=np.float32)
    counts = np.hstack([genes, COUNTS]) if with_peaks else genes
    n_peaks = 3 if with_peaks else 0
    features = {
        "id": ["ENSG01", "ENSG02"] + PEAK_NAMES[:n_peaks],
        "name": ["GENE", "GENE"] + PEAK_NAMES[:n_peaks],
        "feature_type": ["Gene Expression"] * 2 + ["Peaks"] * n_peaks,
        "genome": ["GRCh38"] * (2 + n_peaks),
        "interval": ["chr1:11868-14409", "NA"] + PEAK_NAMES[:n_peaks],
    }
    write_10x_h5(path, counts, BARCODES, features)
    return genes


def test_read_multiome_h5(tmp_path):
    path = tmp_path / "filtered_feature_bc_matrix.h5"
    genes = multiome_file(path)
    assert_matches_fixture(read_atac(path))
    atac, rna = read_multiome(path)
    assert_matches_fixture(atac)
    check_paired_rna(atac, rna)
    assert sp.isspmatrix_csr(rna.X) and rna.X.dtype == np.float32
    np.testing.assert_array_equal(rna.X.toarray(), genes)
    assert list(rna.var_names) == ["GENE", "GENE-1"]  # duplicated symbols made unique
    assert list(rna.var["gene_ids"]) == ["ENSG01", "ENSG02"]
    assert list(rna.var["gene_names"]) == ["GENE", "GENE"]
    assert rna.var["chrom"].iloc[0] == "chr1" and rna.var["start"].iloc[0] == 11868
    assert pd.isna(rna.var["start"].iloc[1])


def test_gene_expression_only_h5_is_rejected(tmp_path):
    path = tmp_path / "filtered_feature_bc_matrix.h5"
    multiome_file(path, with_peaks=False)
    with pytest.raises(SeqatacInputError) as error:
        read_atac(path)
    message = str(error.value)
    assert "no 'Peaks' features" in message and "only Gene Expression: 2" in message
    assert "filtered_peak_bc_matrix.h5" in message


def test_read_multiome_needs_gene_expression(tmp_path):
    path = tmp_path / "filtered_peak_bc_matrix.h5"
    write_10x_h5(path, COUNTS, BARCODES, {"id": PEAK_NAMES, "feature_type": ["Peaks"] * 3})
    with pytest.raises(SeqatacInputError, match="no 'Gene Expression' features.*use read_atac"):
        read_multiome(path)


# --- MatrixMarket ----------------------------------------------------------------------------------


@pytest.mark.parametrize("peaks_by_cells", [True, False])
@pytest.mark.parametrize("gz", [False, True])
def test_read_mtx_both_orientations(tmp_path, peaks_by_cells, gz):
    matrix, _, _ = write_mex(tmp_path, peaks_by_cells=peaks_by_cells, gz=gz)
    assert_matches_fixture(read_atac(matrix))


def test_read_10x_matrix_directory(tmp_path):
    directory = tmp_path / "filtered_peak_bc_matrix"
    write_mex(directory, gz=True)
    assert_matches_fixture(read_atac(directory))


def test_read_mtx_with_explicit_peaks_and_barcodes(tmp_path):
    matrix, peaks, barcodes = write_mex(
        tmp_path, names=("counts.mtx", "my_peaks.bed", "cells.txt")
    )
    with pytest.raises(SeqatacInputError, match="No peak BED file found.*pass peaks="):
        read_atac(matrix)
    assert_matches_fixture(read_atac(matrix, peaks=peaks, barcodes=barcodes, format="mtx"))


def test_square_mtx_assumes_10x_orientation_with_a_warning(tmp_path):
    matrix, _, _ = write_mex(tmp_path)
    (tmp_path / "barcodes.tsv").write_text("A-1\nB-1\nC-1\n")
    square = np.array([[1, 2, 0], [0, 0, 3], [4, 0, 0]])  # peaks x cells
    scipy.io.mmwrite(matrix, sp.coo_matrix(square))
    with pytest.warns(SeqatacWarning, match="square"):
        adata = read_atac(matrix)
    np.testing.assert_array_equal(adata.X.toarray(), square.T)


def test_read_mtx_dimension_mismatch(tmp_path):
    matrix, peaks, _ = write_mex(tmp_path)
    (tmp_path / "barcodes.tsv").write_text("A-1\nB-1\n")
    with pytest.raises(SeqatacInputError) as error:
        read_atac(matrix)
    message = str(error.value)
    assert "is 3 x 4" in message and "fits neither" in message
    assert "3 peaks" in message and "2 barcodes" in message


def test_read_atac_binarize_and_unknown_format(tmp_path, shared_data):
    matrix, _, _ = write_mex(tmp_path)
    adata = read_atac(matrix, binarize=True)
    np.testing.assert_array_equal(adata.X.toarray(), (COUNTS > 0).astype(np.float32))
    text = tmp_path / "counts.csv"
    text.write_text("a,b\n1,2\n")
    with pytest.raises(SeqatacInputError, match="Cannot tell the format.*format="):
        read_atac(text)
    with pytest.raises(SeqatacInputError, match="only apply to MatrixMarket"):
        read_atac(shared_data / "atac_small_peaks.h5ad", peaks=tmp_path / "peaks.bed")


def test_h5ad_detected_by_content_and_dense_x_made_sparse(tmp_path):
    path = tmp_path / "counts.h5"  # an .h5ad under a 10x-like suffix
    dense = small_adata()
    dense.X = COUNTS.astype(np.int32)
    dense.write_h5ad(path)
    adata = read_atac(path)
    assert_matches_fixture(adata)


# --- validation ------------------------------------------------------------------------------------


def test_validate_returns_regions_without_modifying_adata():
    adata = small_adata()
    before_var, before_x = adata.var.copy(), adata.X.copy()
    regions = validate_atac(adata)
    assert list(zip(regions["chrom"], regions["start"], regions["end"])) == PEAKS
    pd.testing.assert_frame_equal(adata.var, before_var)
    assert (adata.X != before_x).nnz == 0
    dense = small_adata()
    dense.X = COUNTS.copy()
    validate_atac(dense)  # dense input accepted too


def test_negative_counts_error():
    counts = COUNTS.copy()
    counts[0, 0] = -1
    counts[2, 1] = -3
    with pytest.raises(SeqatacInputError) as error:
        validate_atac(small_adata(counts))
    message = str(error.value)
    assert "2 negative values" in message and "raw" in message and "layers['counts']" in message


def test_nan_and_infinite_counts_error():
    counts = COUNTS.copy()
    counts[0, 0] = np.nan
    counts[1, 2] = np.inf
    for adata in (small_adata(counts), ad.AnnData(counts, var=pd.DataFrame(index=PEAK_NAMES))):
        with pytest.raises(SeqatacInputError, match="1 NaN, 1 infinite values.*raw"):
            validate_atac(adata)


def test_non_integer_counts_warn():
    counts = COUNTS.copy()
    counts[0, 0] = 0.5
    with pytest.warns(SeqatacWarning, match="1 non-integer values"):
        validate_atac(small_adata(counts))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_atac(small_adata())


def test_empty_and_all_zero_matrices_error():
    with pytest.raises(SeqatacInputError, match=r"empty \(0 cells x 3 peaks\)"):
        validate_atac(small_adata(np.zeros((0, 3), dtype=np.float32)))
    with pytest.raises(SeqatacInputError, match="no non-zero counts"):
        validate_atac(small_adata(np.zeros((4, 3), dtype=np.float32)))


def test_add_peak_coordinates_writes_var_columns():
    adata = small_adata()
    assert add_peak_coordinates(adata) is None
    assert list(adata.var["chrom"]) == ["chr1", "chr1", "chrUn_gl000220"]
    assert list(adata.var["end"]) == [200, 450, 60]


# --- binarize and filtering ------------------------------------------------------------------------


def test_binarize_sparse_dense_and_copy():
    counts = COUNTS.copy()
    counts[0, 1] = 0  # explicit zero
    adata = small_adata(counts)
    copied = binarize(adata, copy=True)
    np.testing.assert_array_equal(adata.X.toarray(), counts)  # original untouched
    assert sp.isspmatrix_csr(copied.X) and copied.X.dtype == np.float32
    np.testing.assert_array_equal(copied.X.toarray(), (counts > 0).astype(np.float32))
    assert copied.X.nnz == 6
    dense = small_adata()
    dense.X = COUNTS * 3
    assert binarize(dense) is None
    assert isinstance(dense.X, np.ndarray)
    np.testing.assert_array_equal(dense.X, (COUNTS > 0).astype(np.float32))


def test_filter_peaks_and_cells_record_what_they_removed(tmp_path):
    counts = COUNTS.copy()
    counts[0, 2] = 0
    adata = small_adata(counts)
    # cells per peak: [2, 2, 1]; after dropping peak 3, peaks per cell: [1, 0, 2, 1]
    filtered = filter_peaks(adata, min_cell_fraction=0.5, copy=True)
    assert adata.n_vars == 3 and filtered.var_names.tolist() == PEAK_NAMES[:2]
    assert filter_peaks(adata, min_cells=2) is None
    assert adata.var_names.tolist() == PEAK_NAMES[:2]
    filter_cells(adata, min_peaks=1)
    assert adata.obs_names.tolist() == ["AAAC-1", "AAAT-1", "AACA-1"]
    log = adata.uns["seqatac"]["filtering"]
    assert log.to_dict("records") == [
        {"step": "filter_peaks", "threshold": 2, "n_removed": 1, "n_kept": 2},
        {"step": "filter_cells", "threshold": 1, "n_removed": 1, "n_kept": 3},
    ]
    adata.write_h5ad(tmp_path / "filtered.h5ad")
    reread = ad.read_h5ad(tmp_path / "filtered.h5ad").uns["seqatac"]["filtering"]
    assert reread["n_kept"].tolist() == [2, 3]


def test_fraction_threshold_is_not_thrown_off_by_rounding():
    counts = np.zeros((50, 2), dtype=np.float32)
    counts[:5, 0] = 1  # 5 of 50 cells = exactly 0.1
    counts[:4, 1] = 1
    adata = ad.AnnData(sp.csr_matrix(counts), var=pd.DataFrame(index=["chr1:0-10", "chr1:20-30"]))
    filter_peaks(adata, min_cell_fraction=0.1)
    assert adata.var_names.tolist() == ["chr1:0-10"]


def test_filtering_everything_is_an_error_and_leaves_adata_untouched():
    adata = small_adata()
    with pytest.raises(SeqatacInputError) as error:
        filter_peaks(adata, min_cells=3)
    message = str(error.value)
    assert "would remove all 3 peaks" in message and "(the most is 2)" in message
    assert "lower the threshold" in message
    with pytest.raises(SeqatacInputError, match="remove all 4 cells.*lower the threshold to at most 2"):
        filter_cells(adata, min_peaks=5)
    assert adata.shape == (4, 3) and "seqatac" not in adata.uns
    np.testing.assert_array_equal(adata.X.toarray(), COUNTS)


def test_invalid_thresholds():
    with pytest.raises(SeqatacInputError, match="in \\[0, 1\\]"):
        filter_peaks(small_adata(), min_cell_fraction=2.0)
    with pytest.raises(SeqatacInputError, match="integer >= 0"):
        filter_cells(small_adata(), min_peaks=-1)


# --- paired RNA ------------------------------------------------------------------------------------


def rna_for(names):
    return ad.AnnData(sp.csr_matrix(np.ones((len(names), 2), dtype=np.float32)),
                      obs=pd.DataFrame(index=names))


def test_paired_rna_matching_cells_pass():
    assert check_paired_rna(small_adata(), rna_for(BARCODES)) is None


def test_paired_rna_with_different_cells_errors():
    with pytest.raises(SeqatacInputError) as error:
        check_paired_rna(small_adata(), rna_for(["AAAC-1", "AAAG-1", "AAAT-1", "XXXX-1", "YYYY-1"]))
    message = str(error.value)
    assert "1 of 4 ATAC cells are missing from RNA (e.g. 'AACA-1')" in message
    assert "2 of 5 RNA cells are missing from ATAC (e.g. 'XXXX-1', 'YYYY-1')" in message
    assert "intersection" in message


def test_paired_rna_in_a_different_order_errors():
    with pytest.raises(SeqatacInputError) as error:
        check_paired_rna(small_adata(), rna_for(BARCODES[::-1]))
    message = str(error.value)
    assert "same 4 cells" in message and "different order" in message
    assert "rna = rna[atac.obs_names].copy()" in message


def test_paired_rna_with_duplicated_cells_errors():
    with pytest.warns(UserWarning):  # anndata itself warns about non-unique obs names
        rna = rna_for(["AAAC-1", "AAAC-1", "AAAT-1", "AACA-1"])
    with pytest.raises(SeqatacInputError, match="RNA data has 1 duplicated cell names.*'AAAC-1'"):
        check_paired_rna(small_adata(), rna)


def test_reading_keeps_the_users_coordinate_columns(tmp_path):
    """A Signac-style var (seqnames/start/end) gains no second chromosome column."""
    var = pd.DataFrame({"seqnames": ["chr1"] * 3, "start": [0, 100, 200], "end": [50, 150, 250]},
                       index=["p0", "p1", "p2"])
    ad.AnnData(sp.csr_matrix(np.ones((2, 3), np.float32)), var=var).write_h5ad(tmp_path / "a.h5ad")
    adata = read_atac(tmp_path / "a.h5ad")
    assert list(adata.var.columns) == ["seqnames", "start", "end"]
    assert adata.var["start"].tolist() == [0, 100, 200]
