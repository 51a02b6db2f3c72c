"""seqatac.tl.ism: saturation mutagenesis normalised at the reference base (exact for a linear model)."""

import numpy as np
import pytest
import torch
from seqatac import SeqatacInputError
from seqatac.data import one_hot
from seqatac.tl import ism
from test_tl_predict import PositionWeights


def _expected_importance(weight: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """For o = Σ W·x, mutating the base at l to a changes o by W[a,l] - W[ref,l]; centring the four values
    and reading the reference base gives W[ref,l] - mean_b W[b,l]."""
    length = codes.shape[-1]
    reference = weight[:, codes, np.arange(length)]  # (o, L)
    return reference - weight.mean(axis=1)


def test_ism_of_a_linear_model_is_exact():
    model = PositionWeights(n_outputs=2, length=12).eval()
    model.norm = torch.nn.Identity()
    codes = np.random.default_rng(1).integers(0, 4, (3, 12)).astype(np.int8)
    weight = model.weight.detach().numpy()
    scores = ism(model, codes, batch_size=7)
    assert scores.shape == (3, 2, 12)
    for k in range(3):
        np.testing.assert_allclose(scores[k], _expected_importance(weight, codes[k]), rtol=1e-5, atol=1e-5)
    # one-hot input and a subset of positions give the same numbers
    subset = ism(model, one_hot(codes[:1]), positions=slice(2, 5))
    np.testing.assert_allclose(subset[0], scores[0][:, 2:5], rtol=1e-5, atol=1e-5)
    assert model.training is False


def test_ism_scores_zero_at_n_and_restores_train_mode():
    model = PositionWeights(n_outputs=1, length=12)
    model.norm = torch.nn.Identity()
    model.train()
    codes = np.zeros(12, dtype=np.int8)
    codes[[3, 8]] = 4  # N: no reference base
    scores = ism(model, codes)
    assert scores.shape == (1, 1, 12)
    assert scores[0, 0, 3] == 0 and scores[0, 0, 8] == 0 and np.count_nonzero(scores) == 10
    assert model.training


def test_ism_rejects_empty_positions():
    with pytest.raises(SeqatacInputError, match="positions"):
        ism(PositionWeights(), np.zeros((1, 12), dtype=np.int8), positions=[])
