"""Tests of the LSI baseline (seqatac.baselines._lsi)."""

import anndata as ad
import numpy as np
import pytest
from scipy import sparse
from seqatac import SeqatacInputError
from seqatac.baselines._lsi import lsi, tfidf
from seqatac.simulate import simulate_atac
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score


def _depth_only(n_cells=300, n_peaks=500, seed=0):
    """Cells that differ only in how many peaks they open (no other structure)."""
    rng = np.random.default_rng(seed)
    density = np.exp(rng.uniform(np.log(0.005), np.log(0.5), n_cells))
    return ad.AnnData(sparse.csr_matrix((rng.random((n_cells, n_peaks)) < density[:, None]).astype(np.float32)))


def test_tfidf_matches_hand_computation():
    counts = np.array([[2.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    got = tfidf(sparse.csr_matrix(counts), binarize=False, scale_factor=10.0).toarray()
    tf = counts / counts.sum(axis=1, keepdims=True)
    idf = counts.shape[0] / counts.sum(axis=0)
    np.testing.assert_allclose(got, np.log1p(tf * idf * 10.0), rtol=1e-6)
    binary = tfidf(sparse.csr_matrix(counts), scale_factor=10.0).toarray()
    presence = (counts > 0).astype(float)
    expected = np.log1p(presence / presence.sum(1, keepdims=True) * (4 / presence.sum(0)) * 10.0)
    np.testing.assert_allclose(binary, expected, rtol=1e-6)
    assert sparse.isspmatrix_csr(tfidf(sparse.csr_matrix(counts)))


@pytest.fixture(scope="module")
def tiny():
    return simulate_atac("tiny", random_state=0, rna=False).atac


def test_shapes_keys_and_copy(tiny, tmp_path):
    adata = tiny.copy()
    assert lsi(adata, n_components=12) is None
    embedding = adata.obsm["X_lsi"]
    assert embedding.shape == (adata.n_obs, 12) and embedding.dtype == np.float32
    info = adata.uns["lsi"]
    assert info["params"]["n_components"] == 12
    assert info["depth_correlation"].shape == info["variance_ratio"].shape == (13,)
    assert list(info["kept_components"]) == [c for c in range(13) if c not in info["dropped_components"]][:12]
    copied = lsi(tiny, n_components=5, key_added="X_other", copy=True)
    assert copied is not tiny and copied.obsm["X_other"].shape == (tiny.n_obs, 5) and "X_other" in copied.uns
    assert "X_other" not in tiny.obsm and "lsi" not in tiny.uns
    adata.write_h5ad(tmp_path / "lsi.h5ad")  # everything written is h5ad-serialisable
    back = ad.read_h5ad(tmp_path / "lsi.h5ad").uns["lsi"]
    np.testing.assert_array_equal(back["depth_correlation"], info["depth_correlation"])


def test_deterministic(tiny):
    first = lsi(tiny, n_components=10, copy=True).obsm["X_lsi"]
    second = lsi(tiny, n_components=10, copy=True).obsm["X_lsi"]
    np.testing.assert_array_equal(first, second)


def test_depth_component_dropped():
    adata = _depth_only()
    lsi(adata, n_components=8, scale_dims=False)
    info = adata.uns["lsi"]
    assert abs(info["depth_correlation"][0]) > 0.9
    assert 0 in info["dropped_components"]
    # the kept columns are exactly the remaining SVD components of the same fit
    kept_all = lsi(adata, n_components=9, drop_first_if_depth_correlated=False, scale_dims=False, copy=True)
    np.testing.assert_allclose(
        adata.obsm["X_lsi"], kept_all.obsm["X_lsi"][:, info["kept_components"]], rtol=1e-5, atol=1e-6
    )
    assert kept_all.uns["lsi"]["dropped_components"].size == 0
    log_depth = np.log1p(np.asarray(adata.X.sum(axis=1)).ravel())
    assert abs(np.corrcoef(kept_all.obsm["X_lsi"][:, 0], log_depth)[0, 1]) > 0.9
    assert np.all(np.abs([np.corrcoef(c, log_depth)[0, 1] for c in adata.obsm["X_lsi"].T]) <= 0.9)


def test_scale_dims_z_scores_each_cell_over_its_components(tiny):
    raw = lsi(tiny, n_components=10, scale_dims=False, copy=True).obsm["X_lsi"].astype(np.float64)
    scaled = lsi(tiny, n_components=10, copy=True).obsm["X_lsi"]
    np.testing.assert_allclose(scaled.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(scaled.std(axis=1), 1, rtol=1e-4)
    expected = (raw - raw.mean(1, keepdims=True)) / raw.std(1, keepdims=True)
    np.testing.assert_allclose(scaled, expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(SeqatacInputError, match="at least 3"):
        lsi(tiny, n_components=2, copy=True)


def test_lsi_separates_tiny_cell_types(tiny):
    adata = tiny.copy()
    lsi(adata, n_components=20)
    labels = adata.obs["cell_type"].to_numpy()
    clusters = KMeans(n_clusters=len(np.unique(labels)), n_init=10, random_state=0).fit_predict(adata.obsm["X_lsi"])
    assert adjusted_rand_score(labels, clusters) > 0.3


def test_errors():
    adata = _depth_only(n_cells=20, n_peaks=30)
    with pytest.raises(SeqatacInputError, match="n_components"):
        lsi(adata, n_components=25)
    with pytest.raises(SeqatacInputError, match="depth_corr_threshold"):
        lsi(adata, n_components=5, depth_corr_threshold=1.5)
    with pytest.raises(SeqatacInputError, match="no counts"):
        lsi(ad.AnnData(sparse.csr_matrix((20, 30), dtype=np.float32)), n_components=5)
