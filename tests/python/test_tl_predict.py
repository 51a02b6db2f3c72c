"""seqatac.tl.predict: batching, input kinds, and restoring the model's state."""

import numpy as np
import pytest
import torch
from seqatac import SeqatacInputError
from seqatac.data import encode_sequence, one_hot
from seqatac.tl import codes_to_onehot, predict


class PositionWeights(torch.nn.Module):
    """Toy sequence model: output o = Σ_{b,l} W[o, b, l] · x[b, l] (plus a BatchNorm to expose train mode)."""

    def __init__(self, n_outputs=3, length=12, seed=0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.weight = torch.nn.Parameter(torch.randn(n_outputs, 4, length, generator=generator))
        self.norm = torch.nn.BatchNorm1d(n_outputs, affine=False)

    def forward(self, x):
        return self.norm(torch.einsum("nbl,obl->no", x, self.weight))


def _codes(n=10, length=12, seed=0):
    return np.random.default_rng(seed).integers(0, 5, (n, length)).astype(np.int8)


def test_codes_to_onehot_matches_data_one_hot():
    codes = _codes()
    np.testing.assert_array_equal(codes_to_onehot(torch.from_numpy(codes)).numpy(), one_hot(codes))


def test_predict_codes_and_onehot_agree_with_direct_call_in_any_batch_size():
    model = PositionWeights().eval()
    codes = _codes()
    expected = model(torch.from_numpy(one_hot(codes))).detach().numpy()
    for batch_size in (1, 3, 64):
        np.testing.assert_allclose(predict(model, codes, batch_size=batch_size), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict(model, one_hot(codes)), expected, rtol=1e-5, atol=1e-6)
    kept = predict(model, codes, reduce=lambda out: out[:, :1])
    assert kept.shape == (10, 1)


def test_predict_uses_eval_mode_and_restores_train_mode():
    model = PositionWeights().train()
    codes = _codes()
    out = predict(model, codes, batch_size=4)
    # eval mode: the BatchNorm uses running statistics (identity at init), not batch statistics
    direct = torch.einsum("nbl,obl->no", torch.from_numpy(one_hot(codes)), model.weight).detach().numpy()
    np.testing.assert_allclose(out, direct / np.sqrt(1 + 1e-5), rtol=1e-5, atol=1e-5)
    assert model.training
    assert model.weight.device.type == "cpu"


def test_predict_rejects_bad_input():
    with pytest.raises(SeqatacInputError, match="integer codes"):
        predict(PositionWeights(), np.zeros((2, 3, 12)))
    with pytest.raises(SeqatacInputError, match="batch_size"):
        predict(PositionWeights(), _codes(), batch_size=0)
    encoded = encode_sequence("ACGTNNACGTAC")
    assert predict(PositionWeights().eval(), encoded[None]).shape == (1, 3)
