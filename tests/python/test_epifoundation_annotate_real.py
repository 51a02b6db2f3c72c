"""EpiFoundation annotation without paired RNA: real cells from scratch, class weighting, the held-in
validation split with early stopping, the LSI start of the peak embedding and label transfer through the head."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from seqatac import SeqatacInputError
from seqatac.models import EpiFoundation
from seqatac.models.epifoundation._module import EpiFoundationModule
from seqatac.models.epifoundation._train import TASK_DEFAULTS, class_weights, validation_split
from seqatac.tl import transfer_labels
from test_epifoundation import TINY, crash_after, planted_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FAST = dict(max_cells=16, max_tokens=512, verbose=False)


def schep_subset(shared_data, n_per_type: int):
    """The first ``n_per_type`` cells of each of the 12 Schep 2017 types, all 5,036 peaks."""
    adata = ad.read_h5ad(shared_data / "schep2017_cogaps.h5ad")
    rank = adata.obs.groupby("cell_type", observed=True).cumcount().to_numpy()
    return adata[rank < n_per_type].copy()


def test_annotation_from_scratch_without_rna_beats_chance_on_real_cells(shared_data):
    adata = schep_subset(shared_data, 17)  # 204 cells, 12 types
    rank = adata.obs.groupby("cell_type", observed=True).cumcount().to_numpy()
    train, test = adata[rank < 13].copy(), adata[rank >= 13].copy()  # 156 / 48 cells
    EpiFoundation.setup_anndata(train, labels_key="cell_type")
    model = EpiFoundation(train, preset="small", random_state=0)  # no RNA, no pre-training
    history = model.fit("annotate", max_epochs=12, verbose=False)  # every other option at its default
    assert model.params["peak_init"]["method"] == "lsi"
    assert model.params["annotate_training"]["n_validation_cells"] == 12  # one per type held in
    assert {"val_loss", "val_accuracy"} <= set(history.columns)
    predicted = model.predict_cell_type(test, verbose=False)["cell_type"].astype(str)
    accuracy = (predicted.to_numpy() == test.obs["cell_type"].astype(str).to_numpy()).mean()
    assert accuracy >= 0.4  # chance: 1/12 = 0.083
    assert predicted.nunique() >= 8


def test_balanced_class_weights_follow_scikit_learn_and_reweight_the_loss():
    labels = np.array([0] * 8 + [1] * 2)
    weights = class_weights(labels, 3, "balanced")
    np.testing.assert_allclose(weights, [10 / (2 * 8), 10 / (2 * 2), 1.0])  # absent class 2: weight 1
    logits = torch.tensor([[2.0, 0.0, 0.0]] * 10)  # always predicts class 0
    targets = torch.as_tensor(labels)
    plain = EpiFoundationModule.loss({"cell_type_logits": logits}, targets, "annotate")
    weighted = EpiFoundationModule.loss({"cell_type_logits": logits}, targets, "annotate",
                                        class_weights=torch.as_tensor(weights, dtype=torch.float32))
    per_cell = F.cross_entropy(logits, targets, reduction="none")
    w = torch.as_tensor(weights, dtype=torch.float32)[targets]
    torch.testing.assert_close(weighted, (w * per_cell).sum() / w.sum())
    assert weighted > plain  # the two cells of the rare class, both wrong, now weigh as much as the eight
    smoothed = EpiFoundationModule.loss({"cell_type_logits": logits}, targets, "annotate", label_smoothing=0.1)
    torch.testing.assert_close(smoothed, F.cross_entropy(logits, targets, label_smoothing=0.1))


def test_class_weighting_is_recorded_and_changes_training():
    atac, _ = planted_data(n_cells=60)
    keep = np.r_[np.flatnonzero(atac.obs["cell_type"] != "t2"), np.flatnonzero(atac.obs["cell_type"] == "t2")[:6]]
    atac = atac[np.sort(keep)].copy()  # t0, t1: 20 cells each; t2: 6
    EpiFoundation.setup_anndata(atac, labels_key="cell_type")
    states = {}
    for option in ("balanced", None):
        model = EpiFoundation(atac, random_state=0, **TINY)
        model.fit("annotate", max_epochs=2, class_weight=option, validation_fraction=0, patience=None, **FAST)
        states[option] = model.module.state_dict()
        recorded = model.params["annotate_training"]
        assert recorded["class_weight"] == option
        if option:
            np.testing.assert_allclose(recorded["class_weights"], [46 / 60, 46 / 60, 46 / 18], rtol=1e-5)
        else:
            assert "class_weights" not in recorded
    assert not torch.equal(states["balanced"]["cell_type_head.out.weight"], states[None]["cell_type_head.out.weight"])


def test_validation_split_is_stratified_seeded_and_keeps_every_type_in_training():
    cells = np.arange(40)
    labels = np.array([0] * 30 + [1] * 9 + [2])
    train, held = validation_split(cells, labels, 0.1, seed=5)
    assert sorted(np.bincount(labels[held], minlength=3)) == [0, 1, 3]  # 10% of 30, 1 of 9, none of 1
    assert set(labels[train]) == {0, 1, 2} and len(np.intersect1d(train, held)) == 0
    np.testing.assert_array_equal(held, validation_split(cells, labels, 0.1, seed=5)[1])
    assert not np.array_equal(held, validation_split(cells, labels, 0.1, seed=6)[1])


def test_early_stopping_keeps_the_best_epoch_and_is_deterministic():
    atac, _ = planted_data(n_cells=60)
    EpiFoundation.setup_anndata(atac, labels_key="cell_type")
    runs = []
    for _ in range(2):
        model = EpiFoundation(atac, random_state=2, **TINY)
        history = model.fit("annotate", max_epochs=12, patience=2, lr=3e-2, **FAST)
        runs.append((history, model.module.state_dict()))
    history = runs[0][0]
    best = int(history["val_loss"].to_numpy().argmin())
    assert len(history) <= 12 and (len(history) == 12 or len(history) == best + 1 + 2)
    pd.testing.assert_frame_equal(history.drop(columns=["seconds", "cells_per_s", "tokens_per_s"]),
                                  runs[1][0].drop(columns=["seconds", "cells_per_s", "tokens_per_s"]))
    assert all(torch.equal(runs[0][1][key], runs[1][1][key]) for key in runs[0][1])
    with pytest.raises(SeqatacInputError, match="needs validation_fraction > 0"):
        EpiFoundation(atac, **TINY).fit("annotate", validation_fraction=0, patience=3, **FAST)
    with pytest.raises(SeqatacInputError, match="fit\\(mode='annotate'\\) only"):
        EpiFoundation(atac, **TINY).pretrain(class_weight="balanced")


def test_resume_with_validation_and_early_stopping_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    atac, _ = planted_data(n_cells=48)
    EpiFoundation.setup_anndata(atac, labels_key="cell_type")
    options = dict(max_epochs=4, patience=2, **FAST)
    expected = EpiFoundation(atac, random_state=1, **TINY)
    history = expected.fit("annotate", **options)
    with crash_after(monkeypatch, n_steps=5):
        EpiFoundation(atac, random_state=1, **TINY).fit("annotate", checkpoint_dir=str(tmp_path), **options)
    resumed = EpiFoundation(atac, random_state=1, **TINY)
    again = resumed.fit("annotate", checkpoint_dir=str(tmp_path), resume=True, **options)
    np.testing.assert_allclose(again["val_loss"], history["val_loss"], rtol=1e-6)
    final = expected.module.state_dict()
    assert all(torch.equal(final[key], value) for key, value in resumed.module.state_dict().items())


def test_lsi_start_of_the_peak_embedding_is_seeded_and_skips_closed_peaks():
    atac, _ = planted_data(n_cells=48)
    closed = np.ones(atac.n_vars, dtype=np.float32)
    closed[5] = 0
    atac.X = sp.csr_matrix(atac.X.multiply(closed[None]))
    tables = []
    for _ in range(2):
        model = EpiFoundation(atac, random_state=0, **TINY)
        model.initialise_peak_embedding(n_components=8, scale=0.5)
        tables.append(model.module.peak_embedding.embedding.weight.detach().clone())
    torch.testing.assert_close(tables[0], tables[1], rtol=0, atol=0)
    peaks = tables[0][4:]  # after the special tokens
    token = model.vocabulary.map_regions(atac.var[["chrom", "start", "end"]]).tokens[5] - 4
    assert torch.all(peaks[token] == 0) and torch.all(peaks[:, 8:] == 0)
    seen = torch.ones(len(peaks), dtype=torch.bool)
    seen[token] = False
    assert abs(float(peaks[seen, :8].pow(2).mean().sqrt()) - 0.5) < 1e-4
    assert model.params["peak_init"] == {"method": "lsi", "n_components": 8, "scale": 0.5, "n_cells": 48}
    with pytest.raises(SeqatacInputError, match="n_components must lie in"):
        model.initialise_peak_embedding(n_components=64)


def test_unlabelled_query_cells_enter_the_lsi_start_of_annotation_but_not_its_training():
    atac, _ = planted_data(n_cells=48)
    atac.obs["cell_type"] = atac.obs["cell_type"].astype(object)
    atac.obs.iloc[30:, atac.obs.columns.get_loc("cell_type")] = np.nan  # 18 query cells without a label
    EpiFoundation.setup_anndata(atac, labels_key="cell_type")
    options = dict(max_epochs=2, head_warmup_epochs=1, validation_fraction=0, patience=None, **FAST)
    auto = EpiFoundation(atac, random_state=0, **TINY)
    auto.fit("annotate", **options)  # peak_init="auto": LSI of all 48 cells
    assert auto.params["peak_init"]["n_cells"] == 48
    assert auto.params["annotate_training"]["n_training_cells"] == 30
    by_hand = EpiFoundation(atac, random_state=0, **TINY)
    by_hand.initialise_peak_embedding(atac)
    by_hand.fit("annotate", peak_init=None, **options)
    for (name, a), (_, b) in zip(auto.module.state_dict().items(), by_hand.module.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_transfer_through_the_head_writes_what_tl_transfer_labels_writes():
    atac, _ = planted_data(n_cells=96)
    reference, query = atac[:72].copy(), atac[72:].copy()
    EpiFoundation.setup_anndata(reference, labels_key="cell_type")
    model = EpiFoundation(reference, random_state=0, **TINY)
    model.fit("annotate", max_epochs=10, lr=3e-3, **FAST)
    probabilities = model.predict_cell_type_probabilities(query, verbose=False)
    best = probabilities.max(axis=1).to_numpy()
    threshold = float(np.median(best))
    model.transfer_labels(query, min_confidence=threshold, verbose=False)
    labels = query.obs["cell_type_transferred"]
    assert list(labels.cat.categories) == [*model.cell_types, "unassigned"]
    np.testing.assert_allclose(query.obs["cell_type_transferred_confidence"], best, rtol=1e-6)
    unassigned = labels.astype(str).to_numpy() == "unassigned"
    np.testing.assert_array_equal(unassigned, best < threshold)
    assigned = ~unassigned
    np.testing.assert_array_equal(labels.astype(str).to_numpy()[assigned],
                                  probabilities.idxmax(axis=1).to_numpy()[assigned])
    assert query.uns["cell_type_transferred"]["params"]["min_confidence"] == threshold
    given = query.copy()  # predictions already at hand give the same columns without predicting again
    model.transfer_labels(given, min_confidence=threshold, predicted=model.predict_cell_type(query, verbose=False))
    pd.testing.assert_frame_equal(given.obs, query.obs)
    with pytest.raises(SeqatacInputError, match="predicted= must be predict_cell_type"):
        model.transfer_labels(given, predicted=model.predict_cell_type(query, verbose=False).iloc[::-1])

    model.transfer_labels(query, min_confidence=0.0, key_added="everyone", verbose=False)
    assert (query.obs["everyone"] != "unassigned").all()
    accuracy = (query.obs["everyone"].astype(str) == query.obs["cell_type"].astype(str)).mean()
    assert accuracy > 0.6  # chance: 1/3

    # the kNN path names and lays out its columns the same way
    reference.obsm["X"], query.obsm["X"] = (model.get_latent_representation(a, verbose=False)
                                            for a in (reference, query))
    transfer_labels(reference, query, embedding_key="X", key_added="knn")
    assert list(query.obs["knn"].cat.categories) == list(labels.cat.categories)
    assert query.obs["knn_confidence"].dtype == query.obs["cell_type_transferred_confidence"].dtype

    with pytest.raises(SeqatacInputError, match="min_confidence must lie in"):
        model.transfer_labels(query, min_confidence=1.5)
    with pytest.raises(SeqatacInputError, match="untrained"):
        EpiFoundation(reference, **TINY).transfer_labels(query)
    renamed = reference.copy()
    renamed.obs["cell_type"] = renamed.obs["cell_type"].cat.rename_categories({"t0": "unassigned"})
    with pytest.raises(SeqatacInputError, match="uses the label 'unassigned'"):
        EpiFoundation(renamed, **TINY).fit("annotate", **FAST)


def test_annotation_defaults_are_documented_and_applied():
    atac, _ = planted_data(n_cells=48)
    EpiFoundation.setup_anndata(atac, labels_key="cell_type")
    model = EpiFoundation(atac, random_state=0, **TINY)
    model.fit("annotate", max_epochs=1, **FAST)
    recorded = model.params["annotate_training"]
    for key, value in TASK_DEFAULTS["annotate"].items():
        if key != "max_epochs":
            assert recorded[key] == value, key


def test_head_warmup_trains_the_head_alone_first_then_everything():
    atac, _ = planted_data(n_cells=48)
    EpiFoundation.setup_anndata(atac, labels_key="cell_type")
    model = EpiFoundation(atac, random_state=0, **TINY)
    model.initialise_peak_embedding(atac)
    start = {key: value.clone() for key, value in model.module.state_dict().items()}
    options = dict(validation_fraction=0, patience=None, peak_init=None, **FAST)
    model.fit("annotate", max_epochs=2, head_warmup_epochs=2, **options)
    probed = {key: value.clone() for key, value in model.module.state_dict().items()}
    encoder = [key for key in start if not key.startswith("cell_type_head.")]
    assert all(torch.equal(probed[key], start[key]) for key in encoder)  # a linear probe: the encoder stays
    model.fit("annotate", max_epochs=1, head_warmup_epochs=1, **options)
    head = [key for key in probed if key.startswith("cell_type_head.")]
    assert head and not all(torch.equal(model.module.state_dict()[key], probed[key]) for key in head)
    model.fit("annotate", max_epochs=2, head_warmup_epochs=1, **options)
    assert not torch.equal(model.module.peak_embedding.embedding.weight, probed["peak_embedding.embedding.weight"])
    with pytest.raises(SeqatacInputError, match="head_warmup_epochs must be an integer >= 0"):
        model.fit("annotate", max_epochs=1, head_warmup_epochs=-1, **options)
