"""scBasset's data pipeline: peak-major targets, splits, filters, augmentation, batches."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from seqatac import SeqatacInputError
from seqatac.data import one_hot, reverse_complement
from seqatac.models import _targets
from seqatac.models.scbasset import PeakTargets, augment_codes, split_peaks
from seqatac.models.scbasset._data import epoch_batches, peak_filter
from seqatac.tl import codes_to_onehot


def _counts(seed=0, shape=(40, 30), density=0.2):
    rng = np.random.default_rng(seed)
    dense = (rng.random(shape) < density) * rng.integers(1, 4, shape)
    return dense.astype(np.float32)


@pytest.mark.parametrize("kind", ["csr", "csc", "dense", "csr_explicit_zero"])
def test_peak_targets_transpose_every_input_kind(kind, monkeypatch):
    monkeypatch.setattr(_targets, "_CHUNK_NNZ", 37)  # force many chunks
    dense = _counts()
    matrix = {"csr": sp.csr_matrix(dense), "csc": sp.csc_matrix(dense), "dense": dense}.get(kind)
    if kind == "csr_explicit_zero":
        matrix = sp.csr_matrix(dense)
        matrix.data[::3] = 0  # stored zeros are closed
        dense = matrix.toarray()
    targets = PeakTargets.from_matrix(matrix)
    assert targets.n_peaks == 30 and targets.n_cells == 40
    assert targets.indices.dtype == np.int32
    np.testing.assert_array_equal(targets.dense_rows(np.arange(30)), (dense.T > 0).astype(np.float32))
    np.testing.assert_array_equal(targets.n_open_cells(), (dense > 0).sum(axis=0))


def test_dense_rows_of_a_batch_and_a_cell_subset():
    dense = _counts(1)
    targets = PeakTargets.from_matrix(sp.csr_matrix(dense))
    peaks, cells = np.array([7, 2, 29]), np.array([0, 5, 39])
    np.testing.assert_array_equal(targets.dense_rows(peaks), dense.T[peaks] > 0)
    np.testing.assert_array_equal(targets.dense_rows(peaks, cells), dense.T[peaks][:, cells] > 0)
    subset = targets.subset_peaks(peaks)
    np.testing.assert_array_equal(subset.dense_rows(np.arange(3)), dense.T[peaks] > 0)


def test_split_is_seeded_disjoint_and_90_5_5():
    splits = split_peaks(1000, random_state=3)
    assert [len(splits[k]) for k in ("train", "val", "test")] == [900, 50, 50]
    joined = np.concatenate(list(splits.values()))
    assert np.array_equal(np.sort(joined), np.arange(1000))
    again = split_peaks(1000, random_state=3)
    assert all(np.array_equal(splits[k], again[k]) for k in splits)
    assert not np.array_equal(split_peaks(1000, random_state=4)["val"], splits["val"])
    assert len(split_peaks(10, train_fraction=1.0)["train"]) == 10


def test_peak_filter_options():
    regions = pd.DataFrame({"chrom": ["chr1", "chrM", "chr2_random", "X"], "start": 0, "end": 10})
    dense = np.zeros((10, 4), dtype=np.float32)
    dense[:1, 0] = 1  # 10 % of cells
    dense[:, 1:] = 1
    targets = PeakTargets.from_matrix(dense)
    assert peak_filter(regions, targets).tolist() == [True] * 4
    assert peak_filter(regions, targets, min_cell_fraction=0.2).tolist() == [False, True, True, True]
    assert peak_filter(regions, targets, standard_chromosomes=True).tolist() == [True, False, False, True]
    with pytest.raises(SeqatacInputError, match="leave no peak"):
        peak_filter(regions.iloc[[1]], PeakTargets.from_matrix(dense[:, [1]]), standard_chromosomes=True)


def test_augmentation_reverse_complement_and_padded_shift():
    codes = np.array([[0, 1, 2, 3, 4, 0, 0, 1]], dtype=np.int8)
    np.testing.assert_array_equal(augment_codes(codes, reverse=True, shift=0), reverse_complement(codes))
    shifted = augment_codes(codes, reverse=False, shift=2)
    np.testing.assert_array_equal(shifted[0, 2:], codes[0, :-2])
    onehot = codes_to_onehot(torch.from_numpy(shifted)).numpy()[0]
    np.testing.assert_array_equal(onehot[:, :2], np.full((4, 2), 0.25))  # padding = uniform columns
    np.testing.assert_array_equal(onehot[:, 2:], one_hot(codes[0, :-2]))
    left = augment_codes(codes, reverse=True, shift=-3)  # reverse first, then shift (the authors' order)
    np.testing.assert_array_equal(left[0, :-3], reverse_complement(codes)[0, 3:])
    assert (codes_to_onehot(torch.from_numpy(left)).numpy()[0, :, -3:] == 0.25).all()


def test_epoch_batches_drop_a_too_small_last_batch():
    assert epoch_batches(10, 4) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert epoch_batches(9, 4) == [slice(0, 4), slice(4, 8)]  # a single leftover peak cannot batch-normalise
    assert epoch_batches(10, 4, min_last=4) == [slice(0, 4), slice(4, 8)]
