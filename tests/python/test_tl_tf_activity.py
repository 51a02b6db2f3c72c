"""seqatac.tl.tf_activity / shuffled_backgrounds: motif insertion into shuffled peaks (exact for a linear model)."""

import numpy as np
import pytest
import torch
from seqatac import SeqatacInputError
from seqatac.data import Motif
from seqatac.tl import motif_columns, shuffled_backgrounds, tf_activity
from test_tl_predict import PositionWeights


def _dinucleotides(codes):
    return np.bincount((codes[:, :-1] * 5 + codes[:, 1:]).ravel(), minlength=25)


def test_shuffled_backgrounds_preserve_dinucleotides_and_are_seeded():
    peaks = np.random.default_rng(0).integers(0, 4, (20, 50)).astype(np.int8)
    backgrounds = shuffled_backgrounds(peaks, n=8, random_state=1)
    assert backgrounds.shape == (8, 50) and backgrounds.dtype == np.int8
    np.testing.assert_array_equal(backgrounds, shuffled_backgrounds(peaks, n=8, random_state=1))
    # each background is a shuffle of one of the peaks: same dinucleotide counts as some peak
    for row in backgrounds:
        assert any(np.array_equal(_dinucleotides(row[None]), _dinucleotides(p[None])) for p in peaks)
    assert len(shuffled_backgrounds(peaks[:3], n=5, random_state=0)) == 5  # with replacement when short


def test_raw_activity_of_a_linear_model_is_the_mean_weight_change():
    length, outputs = 16, 4
    model = PositionWeights(n_outputs=outputs, length=length, seed=3).eval()
    model.norm = torch.nn.Identity()
    weight = model.weight.detach().numpy()
    backgrounds = np.random.default_rng(2).integers(0, 4, (6, length)).astype(np.int8)
    motif = Motif("M1", "TFA", np.eye(4)[[0, 2, 2, 3, 1]])  # deterministic AGGTC
    result = tf_activity(model, backgrounds, [motif], zscore=False, random_state=0, batch_size=4)
    start = length // 2 - 5 // 2
    window = np.arange(start, start + 5)
    inserted = weight[:, [0, 2, 2, 3, 1], window].sum(axis=1)
    original = np.mean([weight[:, bg[window], window].sum(axis=1) for bg in backgrounds], axis=0)
    np.testing.assert_allclose(result["TFA"].to_numpy(), inserted - original, rtol=1e-5, atol=1e-5)
    assert result.shape == (outputs, 1) and list(result.index) == ["0", "1", "2", "3"]
    scored = tf_activity(model, backgrounds, [motif], random_state=0, output_names=list("abcd"))
    np.testing.assert_allclose(scored["TFA"].mean(), 0, atol=1e-6)
    np.testing.assert_allclose(scored["TFA"].std(ddof=0), 1, rtol=1e-5)
    assert list(scored.index) == list("abcd")


def test_motif_instances_are_sampled_per_background():
    length = 12
    model = PositionWeights(n_outputs=2, length=length, seed=1).eval()
    model.norm = torch.nn.Identity()
    backgrounds = np.zeros((50, length), dtype=np.int8)
    uncertain = Motif("M2", "TFB", np.full((3, 4), 0.25))
    a = tf_activity(model, backgrounds, [uncertain], zscore=False, random_state=0)
    b = tf_activity(model, backgrounds, [uncertain], zscore=False, random_state=1)
    assert not np.allclose(a, b)  # different instances per seed
    # many backgrounds average toward the expected change under uniform bases
    weight = model.weight.detach().numpy()
    window = np.arange(length // 2 - 1, length // 2 + 2)
    expected = (weight[:, :, window].mean(axis=1) - weight[:, 0, window]).sum(axis=1)
    np.testing.assert_allclose(a.iloc[:, 0], expected, atol=0.6)


def test_motif_columns_and_errors():
    motifs = [Motif("A.1", "GATA1", np.eye(4)[[0]]), Motif("A.2", "GATA1", np.eye(4)[[1]]),
              Motif("B.1", "SPI1", np.eye(4)[[2]])]
    assert motif_columns(motifs) == ["GATA1_A.1", "GATA1_A.2", "SPI1"]
    model = PositionWeights(length=4).eval()
    with pytest.raises(SeqatacInputError, match="longer"):
        tf_activity(model, np.zeros((2, 4), dtype=np.int8), [Motif("L", "LONG", np.eye(4)[[0] * 5])])
    with pytest.raises(SeqatacInputError, match="integer codes"):
        tf_activity(model, np.zeros((2, 4, 4)), motifs)
