"""Tests of kNN label transfer (seqatac.tl._transfer; to be exported as seqatac.tl.transfer_labels)."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from seqatac import SeqatacInputError, SeqatacWarning
from seqatac.baselines import spectral
from seqatac.tl import transfer_labels
from seqatac.tl._transfer import UNASSIGNED
from sklearn.model_selection import StratifiedKFold


@pytest.fixture(scope="module")
def schep(shared_data):
    """Schep 2017 (600 cells, 12 types) with the spectral embedding of all its cells."""
    adata = ad.read_h5ad(shared_data / "schep2017_cogaps.h5ad")
    spectral(adata)
    return adata


def _cells(embedding, labels=None):
    obs = pd.DataFrame(index=[f"cell{i}" for i in range(len(embedding))])
    if labels is not None:
        obs["cell_type"] = labels
    return ad.AnnData(obs=obs, obsm={"X_spectral": np.asarray(embedding, dtype=float)})


def test_recovers_labels_across_folds(schep):
    labels = schep.obs["cell_type"].astype(str).to_numpy()
    predicted = np.empty(schep.n_obs, dtype=object)
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(labels, labels):
        query = schep[test].copy()
        transfer_labels(schep[train].copy(), query, min_confidence=0.0)
        predicted[test] = query.obs["cell_type_transferred"].astype(str).to_numpy()
        confidence = query.obs["cell_type_transferred_confidence"].to_numpy()
        assert np.all((confidence >= 1 / 15) & (confidence <= 1))
        assert query.uns["cell_type_transferred"]["params"]["n_neighbors"] == 15
    assert UNASSIGNED not in set(predicted)
    assert np.mean(predicted == labels) >= 0.75  # 12 types, chance ≈ 0.08; about 0.83 measured


def test_logistic_method_recovers_labels_and_reports_probabilities(schep):
    labels = schep.obs["cell_type"].astype(str).to_numpy()
    accuracy = {}
    for method in ("knn", "logistic"):
        predicted = np.empty(schep.n_obs, dtype=object)
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(labels, labels):
            query = schep[test].copy()
            transfer_labels(schep[train].copy(), query, method=method, min_confidence=0.0)
            predicted[test] = query.obs["cell_type_transferred"].astype(str).to_numpy()
            if method == "logistic":
                confidence = query.obs["cell_type_transferred_confidence"].to_numpy()
                assert np.all((confidence >= 1 / 12) & (confidence <= 1))
                assert query.uns["cell_type_transferred"]["params"]["method"] == "logistic"
        accuracy[method] = np.mean(predicted == labels)
    assert accuracy["logistic"] >= 0.78  # about 0.84 measured
    assert accuracy["logistic"] >= accuracy["knn"] - 0.02
    # a probability threshold above every cell's top probability leaves them all unassigned
    query = schep[:50].copy()
    transfer_labels(schep[50:].copy(), query, method="logistic", min_confidence=1.0)
    assert set(query.obs["cell_type_transferred"].astype(str)) == {UNASSIGNED}


def test_high_threshold_leaves_uncertain_cells_unassigned(schep):
    train, test = np.arange(0, schep.n_obs, 2), np.arange(1, schep.n_obs, 2)
    reference = schep[train].copy()
    loose, strict = schep[test].copy(), schep[test].copy()
    transfer_labels(reference, loose, min_confidence=0.0, key_added="label")
    transfer_labels(reference, strict, min_confidence=1.0, key_added="label")
    unanimous = loose.obs["label_confidence"].to_numpy() == 1.0
    assert 0 < unanimous.sum() < len(test)
    strict_labels = strict.obs["label"].astype(str).to_numpy()
    np.testing.assert_array_equal(strict_labels == UNASSIGNED, ~unanimous)
    np.testing.assert_array_equal(strict_labels[unanimous], loose.obs["label"].astype(str).to_numpy()[unanimous])
    assert list(strict.obs["label"].cat.categories)[-1] == UNASSIGNED
    truth = schep.obs["cell_type"].astype(str).to_numpy()[test]
    # unanimous votes are more often right than the rest
    loose_labels = loose.obs["label"].astype(str).to_numpy()
    unanimous_right = np.mean(strict_labels[unanimous] == truth[unanimous])
    assert unanimous_right > np.mean(loose_labels[~unanimous] == truth[~unanimous])


def test_independent_of_cell_order(schep):
    train, test = np.arange(0, schep.n_obs, 3), np.setdiff1d(np.arange(schep.n_obs), np.arange(0, schep.n_obs, 3))
    rng = np.random.default_rng(0)
    first = schep[test].copy()
    transfer_labels(schep[train].copy(), first)
    shuffled_train, shuffled_test = rng.permutation(train), rng.permutation(test)
    second = schep[shuffled_test].copy()
    transfer_labels(schep[shuffled_train].copy(), second)
    back = second.obs.loc[first.obs_names]
    pd.testing.assert_series_equal(back["cell_type_transferred"], first.obs["cell_type_transferred"])
    confidence = "cell_type_transferred_confidence"
    np.testing.assert_array_equal(back[confidence], first.obs[confidence])


def test_vote_by_hand_with_ties_to_the_closer_label():
    reference = _cells([[0.0], [0.1], [1.0], [1.1], [5.0]], ["a", "a", "b", "b", "c"])
    query = _cells([[0.05], [0.52], [0.6], [4.0]])
    transfer_labels(reference, query, n_neighbors=2, min_confidence=0.0, key_added="guess")
    # 0.05: both a; the others get one vote for each of two labels and go to the closer neighbour:
    # 0.52 → a (0.42) over b (0.48), 0.6 → b (0.4) over a (0.5), 4.0 → c (1.0) over b (2.9)
    assert list(query.obs["guess"].astype(str)) == ["a", "a", "b", "c"]
    np.testing.assert_allclose(query.obs["guess_confidence"], [1.0, 0.5, 0.5, 0.5])
    transfer_labels(reference, query, n_neighbors=2, min_confidence=0.6, key_added="guess")
    assert list(query.obs["guess"].astype(str)) == ["a", UNASSIGNED, UNASSIGNED, UNASSIGNED]


def test_missing_reference_labels_are_left_out_with_a_warning():
    reference = _cells([[0.0], [0.1], [0.2], [1.0], [1.1]], ["a", None, "", "b", np.nan])
    query = _cells([[0.15], [1.05]])
    with pytest.warns(SeqatacWarning, match="3 of 5 reference cells have no 'cell_type' label"):
        transfer_labels(reference, query, n_neighbors=1, min_confidence=0.0)
    assert list(query.obs["cell_type_transferred"].astype(str)) == ["a", "b"]
    assert list(query.obs["cell_type_transferred"].cat.categories) == ["a", "b", UNASSIGNED]


def test_bad_inputs_name_the_fix():
    reference = _cells(np.eye(4), ["a", "a", "b", "b"])
    query = _cells(np.eye(4)[:2])
    with pytest.raises(SeqatacInputError, match="3 dimensions but query's has 4"):
        transfer_labels(_cells(np.eye(4)[:, :3], ["a", "a", "b", "b"]), query)
    with pytest.raises(SeqatacInputError, match="compute the embedding first"):
        transfer_labels(reference, query, embedding_key="X_lsi")
    with pytest.raises(SeqatacInputError, match="no 'celltype' column"):
        transfer_labels(reference, query, label_key="celltype")
    with pytest.raises(SeqatacInputError, match="n_neighbors = 15 but the reference has 4 labelled cells"):
        transfer_labels(reference, query)
    with pytest.raises(SeqatacInputError, match="min_confidence"):
        transfer_labels(reference, query, n_neighbors=2, min_confidence=1.5)
    with pytest.raises(SeqatacInputError, match="method must be one of"):
        transfer_labels(reference, query, method="svm")
    with pytest.raises(SeqatacInputError, match="metric"):
        transfer_labels(reference, query, n_neighbors=2, metric="manhattan")
    with pytest.raises(SeqatacInputError, match="no reference cell has"):
        transfer_labels(_cells(np.eye(4), [None] * 4), query, n_neighbors=2)
    with pytest.raises(SeqatacInputError, match="rename"):
        transfer_labels(_cells(np.eye(4), ["a", UNASSIGNED, "b", "b"]), query, n_neighbors=2)
    with pytest.raises(SeqatacInputError, match="query.copy()"):
        transfer_labels(reference, _cells(np.eye(4))[:2], n_neighbors=2)
    broken = _cells(np.eye(4)[:2])
    broken.obsm["X_spectral"][0, 0] = np.nan
    with pytest.raises(SeqatacInputError, match="NaN"):
        transfer_labels(reference, broken, n_neighbors=2)
