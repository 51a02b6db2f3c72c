"""Tests of the spectral embedding (seqatac.baselines._spectral)."""

import anndata as ad
import numpy as np
import pytest
from scipy import sparse
from seqatac import SeqatacInputError
from seqatac.baselines import select_accessible_features, spectral
from seqatac.metrics import label_score, nmi_ari_cluster_labels_kmeans


@pytest.fixture(scope="module")
def schep(shared_data):
    """Schep 2017: 6 of its 12 types (300 cells × 5,036 peaks), raw counts."""
    adata = ad.read_h5ad(shared_data / "schep2017_cogaps.h5ad")
    types = sorted(adata.obs["cell_type"].unique())[::2]
    return adata[adata.obs["cell_type"].isin(types).to_numpy()].copy()


def _random_counts(n_cells=60, n_peaks=200, seed=0):
    rng = np.random.default_rng(seed)
    dense = rng.poisson(rng.uniform(0.05, 0.4, n_cells)[:, None] * rng.uniform(0.2, 1.5, n_peaks), (n_cells, n_peaks))
    dense[:, 0] = 1  # every cell has a count, and one peak is open everywhere
    return ad.AnnData(sparse.csr_matrix(dense.astype(np.float32)))


def test_select_accessible_features_drops_both_tails_and_empty_peaks():
    totals = np.array([0, 5, 1, 9, 3, 7, 2, 8, 4, 6, 10], dtype=float)  # 10 peaks with counts
    counts = sparse.csr_matrix(totals[None, :])
    mask = select_accessible_features(counts, filter_lower_quantile=0.1, filter_upper_quantile=0.2)
    assert mask.dtype == bool and mask.shape == (11,)
    assert sorted(totals[mask]) == [2, 3, 4, 5, 6, 7, 8]  # 1 dropped below, 9 and 10 above, 0 never kept
    with pytest.raises(SeqatacInputError, match="filter_upper_quantile"):
        select_accessible_features(counts, filter_upper_quantile=0.5)


def test_matches_a_dense_eigendecomposition():
    adata = _random_counts()
    spectral(adata, n_components=8, select_components="all", count_transform="none", drop_first=False,
             filter_lower_quantile=0, filter_upper_quantile=0)  # fmt: skip
    counts = adata.X.toarray().astype(float)
    weights = np.clip(np.log(adata.n_obs / (1 + (counts > 0).sum(axis=0))), 0, None)
    unit = counts * weights
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    similarity = unit @ unit.T - np.eye(adata.n_obs)
    degree = similarity.sum(axis=1)
    values, vectors = np.linalg.eigh(similarity / np.sqrt(np.outer(degree, degree)))
    values, vectors = values[::-1][:8], vectors[:, ::-1][:, :8]
    info = adata.uns["spectral"]
    np.testing.assert_allclose(info["eigenvalues"], values, atol=1e-8)
    np.testing.assert_allclose(info["degree"], degree, rtol=1e-10)
    expected = np.abs(vectors * np.sqrt(values))
    np.testing.assert_allclose(np.abs(adata.obsm["X_spectral"]), expected, atol=1e-5)
    assert values[0] == pytest.approx(1.0)  # the trivial eigenvector, ∝ sqrt(degree)
    np.testing.assert_allclose(np.abs(vectors[:, 0]), np.sqrt(degree / degree.sum()), atol=1e-8)


def test_shapes_keys_copy_and_serialisable(schep, tmp_path):
    adata = schep.copy()
    assert spectral(adata, n_components=20) is None
    info = adata.uns["spectral"]
    embedding = adata.obsm["X_spectral"]
    assert embedding.dtype == np.float32 and embedding.shape == (adata.n_obs, info["n_kept"] - 1)  # depth dropped
    assert 2 <= info["n_kept"] <= 20
    assert info["eigenvalues"].shape == info["negative_eigenvalues"].shape == (20,)
    assert np.all(np.diff(info["eigenvalues"]) <= 1e-12) and np.all(info["negative_eigenvalues"] < 0)
    kept = info["n_kept"]  # the mirror rule: leading eigenvalues above the matched negative magnitudes
    assert np.all(info["eigenvalues"][:kept] > -info["negative_eigenvalues"][:kept])
    assert kept == 20 or info["eigenvalues"][kept] <= -info["negative_eigenvalues"][kept]
    assert info["features"].shape == (adata.n_vars,) and info["n_features"] == info["features"].sum()
    copied = spectral(schep, n_components=10, select_components="all", key_added="X_other", copy=True)
    assert copied is not schep and copied.obsm["X_other"].shape == (schep.n_obs, 9) and "X_other" in copied.uns
    assert "X_other" not in schep.obsm and "spectral" not in schep.uns
    kept_first = spectral(schep, n_components=20, drop_first=False, copy=True).obsm["X_spectral"]
    np.testing.assert_allclose(embedding, kept_first[:, 1:], atol=1e-6)
    adata.write_h5ad(tmp_path / "spectral.h5ad")
    back = ad.read_h5ad(tmp_path / "spectral.h5ad").uns["spectral"]
    np.testing.assert_array_equal(back["eigenvalues"], info["eigenvalues"])


def test_deterministic_and_seed_insensitive(schep):
    first = spectral(schep, copy=True).obsm["X_spectral"]
    np.testing.assert_array_equal(first, spectral(schep, copy=True).obsm["X_spectral"])
    other_seed = spectral(schep, random_state=7, copy=True).obsm["X_spectral"]
    np.testing.assert_allclose(other_seed, first, atol=1e-4)


def test_invariant_to_cell_order(schep):
    order = np.random.default_rng(3).permutation(schep.n_obs)
    straight = spectral(schep, copy=True)
    shuffled = spectral(schep[order].copy(), copy=True)
    assert shuffled.uns["spectral"]["n_kept"] == straight.uns["spectral"]["n_kept"]
    np.testing.assert_allclose(shuffled.obsm["X_spectral"], straight.obsm["X_spectral"][order], atol=1e-4)


def test_components_kept_do_not_depend_on_n_components(schep):
    kept = {n: spectral(schep, n_components=n, copy=True).uns["spectral"]["n_kept"] for n in (20, 40)}
    assert kept[20] == kept[40] < 20


def test_recovers_cell_types_and_first_component_is_depth(schep):
    embedding, labels = spectral(schep, copy=True).obsm["X_spectral"], schep.obs["cell_type"].to_numpy()
    assert nmi_ari_cluster_labels_kmeans(embedding, labels)["nmi"] >= 0.75  # 0.81 measured
    assert label_score(embedding, labels, k=15) >= 0.72
    with_depth = spectral(schep, drop_first=False, copy=True).obsm["X_spectral"]
    depth = np.log1p(np.asarray(schep.X.sum(axis=1)).ravel())
    assert abs(np.corrcoef(with_depth[:, 0], depth)[0, 1]) > 0.9
    assert max(abs(np.corrcoef(embedding[:, j], depth)[0, 1]) for j in range(embedding.shape[1])) < 0.9


@pytest.mark.parametrize("transform", ["none", "binary"])
def test_count_transforms_and_features_argument(schep, transform):
    mask = np.zeros(schep.n_vars, dtype=bool)
    mask[::2] = True
    adata = schep.copy()
    adata.var["chosen"] = mask
    spectral(adata, count_transform=transform, features="chosen", select_components="all", n_components=5)
    assert adata.uns["spectral"]["n_features"] == mask.sum()
    by_index = spectral(adata, count_transform=transform, features=np.flatnonzero(mask), select_components="all",
                        n_components=5, copy=True)  # fmt: skip
    np.testing.assert_array_equal(by_index.obsm["X_spectral"], adata.obsm["X_spectral"])


def test_bad_inputs_name_the_fix(schep):
    with pytest.raises(SeqatacInputError, match="n_components"):
        spectral(schep, n_components=schep.n_obs, copy=True)
    with pytest.raises(SeqatacInputError, match="select_components"):
        spectral(schep, select_components="elbow", copy=True)
    with pytest.raises(SeqatacInputError, match="count_transform"):
        spectral(schep, count_transform="sqrt", copy=True)
    with pytest.raises(SeqatacInputError, match="mask has shape"):
        spectral(schep, features=np.ones(3, dtype=bool), copy=True)
    with pytest.raises(SeqatacInputError, match="not a column"):
        spectral(schep, features="selected", copy=True)
    with pytest.raises(SeqatacInputError, match="layer"):
        spectral(schep, layer="counts", copy=True)
    counts = _random_counts().X.toarray()
    counts[3] = 0
    empty = ad.AnnData(sparse.csr_matrix(counts))
    with pytest.raises(SeqatacInputError, match="filter_cells"):
        spectral(empty, n_components=5, copy=True)
    negative = _random_counts()
    negative.X.data[0] = -1.0
    with pytest.raises(SeqatacInputError, match="negative"):
        spectral(negative, n_components=5, copy=True)
