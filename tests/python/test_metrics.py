"""Tests for seqatac.metrics: hand-computed values on toy inputs."""

import json
import math

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from seqatac import SeqatacInputError, SeqatacWarning
from seqatac import metrics as M
from seqatac.metrics._batch import kbet_acceptance
from seqatac.metrics._neighbors import umap_connectivities
from sklearn.metrics import average_precision_score, roc_auc_score

# four cells on a line; labels A = {0, 1}, B = {4, 6}
LINE = np.array([[0.0], [1.0], [4.0], [6.0]])
LINE_LABELS = np.array(["A", "A", "B", "B"])
# silhouettes by hand: a = mean distance within own label, b = mean distance to the other label
LINE_SILHOUETTES = np.array([(5 - 1) / 5, (4 - 1) / 4, (3.5 - 2) / 3.5, (5.5 - 2) / 5.5])


def blobs(n_per, centers, *, seed=0, scale=0.3):
    """Gaussian blobs around ``centers`` (n_centers, d), n_per cells each, labelled 0..n_centers-1."""
    rng = np.random.default_rng(seed)
    centers = np.asarray(centers, dtype=float)
    labels = np.repeat(np.arange(len(centers)), n_per)
    return centers[labels] + rng.normal(scale=scale, size=(labels.size, centers.shape[1])), labels


# ----------------------------------------------------------------------------- neighbours


def test_neighbors_are_exact_and_start_with_self():
    neighbors = M.compute_neighbors(np.array([[0.0], [1.0], [3.0], [7.0]]), n_neighbors=3)
    np.testing.assert_array_equal(neighbors.indices, [[0, 1, 2], [1, 0, 2], [2, 1, 0], [3, 2, 1]])
    np.testing.assert_allclose(neighbors.distances, [[0, 1, 3], [0, 1, 2], [0, 2, 3], [0, 4, 6]])
    np.testing.assert_array_equal(neighbors.subset(2).indices, [[0, 1], [1, 0], [2, 1], [3, 2]])
    # duplicated points: each cell is still its own column 0
    duplicated = M.compute_neighbors(np.zeros((3, 2)), n_neighbors=3)
    np.testing.assert_array_equal(duplicated.indices[:, 0], [0, 1, 2])
    # cosine: direction only
    cosine = M.compute_neighbors(np.array([[1.0, 0], [10.0, 0.5], [0, 1.0]]), n_neighbors=2, metric="cosine")
    np.testing.assert_array_equal(cosine.indices[:, 1], [1, 0, 1])


def test_neighbors_reject_graph_without_self_and_cap_at_n_cells():
    with pytest.raises(SeqatacInputError, match="column 0"):
        M.Neighbors(np.array([[1, 0], [0, 1]]), np.zeros((2, 2)))
    with pytest.warns(SeqatacWarning, match="only 4 cells"):
        assert M.compute_neighbors(LINE, n_neighbors=90).n_neighbors == 4
    with pytest.raises(SeqatacInputError, match="recompute"):
        M.compute_neighbors(LINE, n_neighbors=2).subset(3)


def test_umap_connectivities_by_hand():
    # cells at 0, 1, 3 with all 3 neighbours: rho = nearest distance, sigma solves
    # 1 + exp(-(d2 - rho)/sigma) = log2(3), so every second-neighbour edge weighs c = log2(3) - 1
    neighbors = M.compute_neighbors(np.array([[0.0], [1.0], [3.0]]), n_neighbors=3)
    connectivities = umap_connectivities(neighbors.indices, neighbors.distances).toarray()
    c = np.log2(3) - 1
    expected = np.array([[0, 1, 2 * c - c * c], [1, 0, 1], [2 * c - c * c, 1, 0]])  # fuzzy union a + b - ab
    np.testing.assert_allclose(connectivities, expected, atol=1e-4)


# ----------------------------------------------------------------------------- bio conservation


def test_silhouette_label_by_hand():
    assert M.silhouette_label(LINE, LINE_LABELS) == pytest.approx((LINE_SILHOUETTES.mean() + 1) / 2)
    with pytest.raises(SeqatacInputError, match="at least 2"):
        M.silhouette_label(LINE, ["A"] * 4)


def test_isolated_labels_by_hand():
    # B occurs in one batch (the minimum), A in two: only B is isolated
    batch = ["b1", "b2", "b1", "b1"]
    expected = ((LINE_SILHOUETTES[2:] + 1) / 2).mean()
    assert M.isolated_labels(LINE, LINE_LABELS, batch) == pytest.approx(expected)


def test_nmi_ari_perfect_and_random_clusters():
    X, labels = blobs(40, [[0, 0], [10, 0], [0, 10]])
    assert M.nmi_ari_cluster_labels_leiden(X, labels) == pytest.approx({"nmi": 1.0, "ari": 1.0})
    assert M.nmi_ari_cluster_labels_kmeans(X, labels) == pytest.approx({"nmi": 1.0, "ari": 1.0})
    shuffled = np.random.default_rng(1).permutation(labels)
    assert M.nmi_ari_cluster_labels_kmeans(X, shuffled)["ari"] < 0.1


def test_clisi_separated_and_uniform():
    X, labels = blobs(100, [[0, 0], [50, 0]])
    assert M.clisi_knn(X, labels) == pytest.approx(1.0)  # every neighbourhood pure: lisi = 1
    # all cells identical: the kernel is uniform over the 5 other cells, 2 of the same label, 3 not
    lisi = M.lisi_knn(np.zeros((6, 2)), [0, 0, 0, 1, 1, 1], n_neighbors=6)
    np.testing.assert_allclose(lisi, 1 / ((2 / 5) ** 2 + (3 / 5) ** 2))


def _reference_lisi(distances, codes, n_codes, perplexity, tol=1e-5):
    """Harmony's per-cell bisection written as a plain loop (self in column 0)."""
    out = []
    for d, c in zip(distances[:, 1:], codes):
        beta, lo, hi = 1.0, -np.inf, np.inf

        def entropy(beta):
            p = np.exp(-d * beta)
            return np.log(p.sum()) + beta * (d * p).sum() / p.sum(), p / p.sum()

        h, p = entropy(beta)
        for _ in range(50):
            if abs(h - np.log(perplexity)) < tol:
                break
            if h > np.log(perplexity):
                lo, beta = beta, beta * 2 if np.isinf(hi) else (beta + hi) / 2
            else:
                hi, beta = beta, beta / 2 if np.isinf(lo) else (beta + lo) / 2
            h, p = entropy(beta)
        out.append(1 / (np.bincount(c[1:], weights=p, minlength=n_codes) ** 2).sum())
    return np.array(out)


def test_lisi_matches_plain_loop_reference():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 3))
    batch = rng.integers(0, 3, 120)
    neighbors = M.compute_neighbors(X, n_neighbors=30)
    expected = _reference_lisi(neighbors.distances, batch[neighbors.indices], 3, perplexity=10)
    np.testing.assert_allclose(M.lisi_knn(neighbors, batch, n_neighbors=30), expected, rtol=1e-6)


# ----------------------------------------------------------------------------- batch correction


def test_silhouette_batch_by_hand():
    # label A holds the line, batches {0, 4} vs {1, 6}: s = -0.125, -0.6, -0.375, -0.2 → mean(1 - |s|)
    # label B sits in one batch and is skipped
    X = np.vstack([LINE, [[100.0], [101.0]]])
    labels = ["A"] * 4 + ["B"] * 2
    batch = ["b1", "b2", "b1", "b2", "b1", "b1"]
    assert M.silhouette_batch(X, labels, batch) == pytest.approx((0.875 + 0.4 + 0.625 + 0.8) / 4)
    with pytest.raises(SeqatacInputError, match="at least 2"):
        M.silhouette_batch(X, labels, ["b1"] * 6)


def test_ilisi_mixed_vs_separated():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    batch = rng.integers(0, 2, 400)
    assert M.ilisi_knn(X, batch) > 0.9  # batches drawn from one distribution: ≈ 1
    separated, groups = blobs(100, [[0, 0], [50, 0]])
    assert M.ilisi_knn(separated, groups) == pytest.approx(0.0)
    # a precomputed graph gives the same value as the embedding
    assert M.ilisi_knn(M.compute_neighbors(X, n_neighbors=100), batch) == M.ilisi_knn(X, batch)


def test_kbet_chi2_by_hand():
    batch_codes = np.array([0, 0, 1, 1])  # global frequencies 1/2, 1/2; k = 4 → expected counts (2, 2)
    # neighbourhood batch counts (4, 0): χ² = 4, p = 0.0455 → reject; (2, 2): accept; (3, 1): χ² = 1, accept
    neighborhoods = np.array([[0, 1, 0, 1], [0, 1, 2, 3], [0, 1, 2, 0]])
    assert kbet_acceptance(neighborhoods, batch_codes) == pytest.approx(2 / 3)
    assert kbet_acceptance(neighborhoods[:1], batch_codes, alpha=0.04) == 1.0


def test_kbet_per_label_mixed_vs_separated():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    labels = np.repeat(["T"], 300)
    batch = rng.integers(0, 2, 300)
    assert M.kbet_per_label(X, batch, labels) > 0.8
    separated = np.vstack([rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) + 100])
    assert M.kbet_per_label(separated, np.repeat([0, 1], 150), labels) == 0.0
    with pytest.warns(SeqatacWarning, match="NaN"):  # fewer than 10 cells: skipped
        assert math.isnan(M.kbet_per_label(X[:8], batch[:8], labels[:8], n_neighbors=5))


def test_graph_connectivity_by_hand():
    # label A = two far groups of 5, label B = one group of 5; 5 neighbours (self + 4) stay in-group
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.uniform(0, 0.4, 5), rng.uniform(100, 100.4, 5), rng.uniform(50, 50.4, 5)])[:, None]
    labels = ["A"] * 10 + ["B"] * 5
    assert M.graph_connectivity(X, labels, n_neighbors=5) == pytest.approx((0.5 + 1.0) / 2)
    assert M.graph_connectivity(X, ["A"] * 10 + ["B"] * 5, n_neighbors=15) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- papers' scores


def test_label_score_by_hand():
    X = np.array([[0.0], [1.0], [5.0], [5.5]])
    labels = ["a", "a", "b", "a"]
    # k=1: nearest = 1, 0, 5.5, 5 → same label for the first two only
    # k=2: {1, 5}, {0, 5}, {5.5, 1}, {5, 1} → 1/2, 1/2, 0, 1/2
    assert M.label_score(X, labels, k=1) == pytest.approx(0.5)
    assert M.label_score(X, labels, k=[1, 2]) == pytest.approx({1: 0.5, 2: 0.375})
    with pytest.raises(SeqatacInputError, match="n_cells - 1"):
        M.label_score(X, labels, k=4)


def test_neighbor_score_by_hand():
    atac = np.array([[0.0], [1.0], [3.0], [10.0]])  # nearest: 1, 0, 1, 2
    rna = np.array([[0.0], [1.5], [10.0], [3.2]])  # nearest: 1, 0, 3, 1
    assert M.neighbor_score(atac, rna, k=1) == pytest.approx(0.5)
    assert M.neighbor_score(atac, atac, k=[1, 2]) == pytest.approx({1: 1.0, 2: 1.0})


def test_cluster_at_n_labels_finds_label_count():
    # two far pairs of touching blobs: resolution 1 gives more than 2 clusters, so the bisection must
    # go down to where each pair (one connected component, one label) is a single cluster
    X, blob = blobs(30, [[0, 0], [4, 0], [40, 0], [44, 0]], scale=1.0)
    result = M.cluster_at_n_labels(X, blob // 2)
    assert result["n_clusters"] == 2 and result["resolution"] < 1
    assert result["ari"] == pytest.approx(1.0) and result["homogeneity"] == pytest.approx(1.0)
    by_blob = M.cluster_at_n_labels(X, blob)
    assert by_blob["n_clusters"] == 4 and by_blob["ari"] > 0.8


@pytest.mark.parametrize("axis", [0, 1])
def test_auroc_auprc_matches_sklearn(axis):
    rng = np.random.default_rng(0)
    truth = (rng.uniform(size=(7, 9)) < 0.4).astype(float)  # one row per scored cell (axis=1) or peak (axis=0)
    truth[2], truth[5] = 0, 1  # all 0 and all 1: skipped
    score = np.round(rng.uniform(size=(7, 9)), 1)  # ties on purpose
    y_true, y_score = (truth, score) if axis == 1 else (truth.T, score.T)
    result = M.auroc_auprc(sp.csr_matrix(y_true), y_score, axis=axis, chunk_size=2)
    for i, (t, s) in enumerate(zip(truth, score)):
        if i in (2, 5):
            assert np.isnan(result["auroc"][i]) and np.isnan(result["auprc"][i])
        else:
            assert result["auroc"][i] == pytest.approx(roc_auc_score(t, s))
            assert result["auprc"][i] == pytest.approx(average_precision_score(t, s))
    assert result["n_skipped"] == 2


def test_annotation_metrics_by_hand():
    result = M.annotation_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    # F1(a) = 2·1·0.5/1.5 = 2/3, F1(b) = 2·(2/3)·1/(5/3) = 0.8
    assert result == pytest.approx({"accuracy": 0.75, "macro_f1": (2 / 3 + 0.8) / 2})
    y_true = np.array(["a", "b", "c", "a", "b", "c"])
    proba = np.random.default_rng(0).dirichlet(np.ones(3), size=6)
    result = M.annotation_metrics(y_true, proba.argmax(1).astype(str), proba=proba, classes=["a", "b", "c"])
    assert result["roc_auc"] == pytest.approx(roc_auc_score(y_true, proba, multi_class="ovr"))
    with pytest.raises(SeqatacInputError, match="classes="):
        M.annotation_metrics(y_true, y_true, proba=proba[:, :2])


def test_expression_metrics_by_hand():
    y_true = np.array([[1.0, 0], [2, 0], [3, 1]])
    y_pred = np.array([[1.0, 1], [2, 1], [4, 1]])
    table = M.expression_metrics(sp.csr_matrix(y_true), y_pred, gene_names=["g1", "g2"])
    assert table.loc["g1", "mse"] == pytest.approx(1 / 3) and table.loc["g2", "mse"] == pytest.approx(2 / 3)
    assert table.loc["g1", "pearson"] == pytest.approx(np.corrcoef([1, 2, 3], [1, 2, 4])[0, 1])
    assert table.loc["g1", "spearman"] == pytest.approx(1.0)
    assert np.isnan(table.loc["g2", "pearson"])  # constant prediction


# ----------------------------------------------------------------------------- sequence-specific


def test_tf_activity_correlation_aligns_by_name():
    rng = np.random.default_rng(0)
    true = pd.DataFrame({"TF1": rng.normal(size=5), "TF2": rng.normal(size=5)}, index=list("abcde"))
    pred = pd.DataFrame({"TF2": -true["TF2"], "TF1": 2 * true["TF1"] + 1}).iloc[::-1]
    correlation = M.tf_activity_correlation(pred, true)
    assert correlation.to_dict() == pytest.approx({"TF2": -1.0, "TF1": 1.0})


def test_driver_tf_recovery_by_hand():
    activity = pd.DataFrame({"t1": [2.0, 2, 0, 0], "t2": [0.0, 0, 1, 1], "t3": [1.0, 1, 1, 1]})
    table = M.driver_tf_recovery(activity, ["X", "X", "Y", "Y"], {"X": ["t1"], "Y": ["t3"]})
    # X: differences t1 = 2, t3 = 0, t2 = -1; Y: t2 = 1, t3 = 0, t1 = -2
    assert table.loc["X", "ranks"] == (1,) and table.loc["X", "top1"] and table.loc["X", "auroc"] == 1.0
    assert table.loc["Y", "best_rank"] == 2 and not table.loc["Y", "top1"] and table.loc["Y", "top3"]
    assert table.loc["Y", "auroc"] == pytest.approx(0.5)  # t3 (0) beats t1 (-2), loses to t2 (1)


def test_driver_tf_recovery_ignores_nan_cells_and_ranks_all_nan_tfs_last():
    activity = pd.DataFrame({"t1": [2.0, np.nan, 0, 0], "t2": [np.nan] * 4, "t3": [1.0, 1, 1, np.nan]})
    table = M.driver_tf_recovery(activity, ["X", "X", "Y", "Y"], {"X": ["t1"], "Y": ["t2"]})
    # X: t1 = 2 - 0 = 2, t3 = 1 - 1 = 0, t2 has no finite value -> last
    assert table.loc["X", "ranks"] == (1,) and table.loc["X", "top1"]
    assert table.loc["Y", "ranks"] == (3,) and not table.loc["Y", "top1"]


def test_ism_position_auroc_by_hand():
    mask = np.array([0, 1, 1, 0], dtype=bool)
    assert M.ism_position_auroc([0.1, 0.9, 0.8, 0.2], mask) == 1.0
    assert M.ism_position_auroc([0.5, 0.9, 0.1, 0.2], mask) == pytest.approx(0.5)  # 2 of 4 pairs
    importance = np.array([[0.1, 0.9, 0.8, 0.2], [0.5, 0.9, 0.1, 0.2]])
    np.testing.assert_allclose(M.ism_position_auroc_per_sequence(importance, [mask, mask]), [1.0, 0.5])
    pooled = roc_auc_score(np.concatenate([mask, mask]), importance.ravel())
    assert M.ism_position_auroc(importance, [mask, mask]) == pytest.approx(pooled)


def test_denoised_correlation_per_cell_and_overall():
    denoised = np.array([[1.0, 2, 3], [1, 2, 3]])
    true = np.array([[2.0, 4, 6], [3, 2, 1]])
    assert M.denoised_correlation(denoised, true, by="cell") == pytest.approx(0.0)  # (1 + -1) / 2
    overall = np.corrcoef(denoised.ravel(), true.ravel())[0, 1]
    assert M.denoised_correlation(denoised, sp.csr_matrix(true), by="overall") == pytest.approx(overall)


# ----------------------------------------------------------------------------- tables


def _toy_embeddings():
    X, labels = blobs(40, [[0, 0], [8, 0], [0, 8]], seed=1, scale=1.0)
    batch = np.random.default_rng(2).integers(0, 2, labels.size).astype(str)
    noise = np.random.default_rng(3).normal(size=X.shape)
    return {"good": X, "noise": noise}, labels.astype(str), batch


def test_benchmark_table_and_scaling():
    embeddings, labels, batch = _toy_embeddings()
    table = M.benchmark(embeddings, labels, batch, k=(10,), verbose=False)
    assert {"Leiden NMI", "cLISI", "iLISI", "KBET", "Graph connectivity", "Label score k=10"} <= set(table.columns)
    assert table.loc["good", "Leiden NMI"] == pytest.approx(1.0)
    assert table.loc["good", "Total"] > table.loc["noise", "Total"]
    np.testing.assert_allclose(table["Total"], 0.6 * table["Bio conservation"] + 0.4 * table["Batch correction"])
    scaled = M.scale_table(table)
    assert scaled["Leiden NMI"].tolist() == [1.0, 0.0]
    bio = ["Isolated labels", "Leiden NMI", "Leiden ARI", "KMeans NMI", "KMeans ARI", "Silhouette label", "cLISI"]
    np.testing.assert_allclose(scaled["Bio conservation"], scaled[bio].mean(axis=1))
    without_batch = M.benchmark(embeddings, labels, k=(10,), verbose=False)
    assert not {"iLISI", "Isolated labels", "Batch correction", "Total"} & set(without_batch.columns)


def test_evaluate_embedding_json_and_errors():
    embeddings, labels, batch = _toy_embeddings()
    obs = pd.DataFrame({"cell_type": labels, "batch": batch}, index=[f"c{i}" for i in range(labels.size)])
    adata = ad.AnnData(np.zeros((labels.size, 2)), obs=obs)
    adata.obsm["X_good"] = embeddings["good"]
    result = M.evaluate_embedding(adata, embedding_key="X_good", label_key="cell_type", batch_key="batch", k=(10, 50))
    assert json.loads(json.dumps(result)) == result
    assert all(type(v) is float for v in result["metrics"].values())
    assert result["metrics"]["label_score_k10"] == pytest.approx(M.label_score(embeddings["good"], labels, k=10))
    assert result["n_labels"] == 3 and result["n_batches"] == 2
    with pytest.raises(SeqatacInputError, match="X_good"):
        M.evaluate_embedding(adata, embedding_key="X_missing", label_key="cell_type")
    with pytest.raises(SeqatacInputError, match="cell_type"):
        M.evaluate_embedding(adata, embedding_key="X_good", label_key="celltype")
    adata.obsm["X_nan"] = embeddings["good"].copy()
    adata.obsm["X_nan"][3, 0] = np.nan
    with pytest.raises(SeqatacInputError, match="NaN"):
        M.evaluate_embedding(adata, embedding_key="X_nan", label_key="cell_type")
    adata.obs["one"] = "x"
    with pytest.raises(SeqatacInputError, match="at least 2"):
        M.evaluate_embedding(adata, embedding_key="X_good", label_key="one")
