"""Shared training utilities (seqatac.models._training) as scBasset uses them."""

import numpy as np
import pytest
import torch
from seqatac import SeqatacInputError, _torch
from seqatac.models import _training as T
from sklearn.metrics import roc_auc_score


def test_binned_auroc_matches_exact_auroc_per_column():
    rng = np.random.default_rng(0)
    targets = (rng.random((400, 5)) < 0.3).astype(np.float32)
    logits = rng.normal(size=(400, 5)) + 1.5 * targets
    metric = T.BinnedAUROC(5, n_bins=2000)
    for start in range(0, 400, 64):  # streamed in batches
        metric.update(torch.from_numpy(logits[start:start + 64]), torch.from_numpy(targets[start:start + 64]))
    exact = [roc_auc_score(targets[:, k], logits[:, k]) for k in range(5)]
    np.testing.assert_allclose(metric.per_output(), exact, atol=2e-3)
    assert metric.mean() == pytest.approx(np.mean(exact), abs=2e-3)
    metric.reset()
    assert np.isnan(metric.per_output()).all()


def test_binned_auroc_with_column_subsets_and_ties():
    metric = T.BinnedAUROC(4, n_bins=10)
    # all scores in one bin: ties count half, auROC 0.5
    metric.update(torch.zeros(4, 2), torch.tensor([[1.0, 0], [0, 1], [1, 0], [0, 1]]), torch.tensor([1, 3]))
    values = metric.per_output()
    assert np.isnan(values[0]) and np.isnan(values[2])
    np.testing.assert_allclose(values[[1, 3]], 0.5)
    metric.update(torch.tensor([[9.0], [-9.0]]), torch.tensor([[1.0], [0.0]]), torch.tensor([0]))
    assert metric.per_output()[0] == 1.0


def test_binned_auroc_blocks_count_like_one_pass(monkeypatch):
    rng = np.random.default_rng(1)
    logits = torch.from_numpy(rng.normal(scale=4.0, size=(7, 6)).astype(np.float32))
    targets = torch.from_numpy((rng.random((7, 6)) < 0.4).astype(np.float32))
    columns = torch.tensor([5, 0, 2, 3, 7, 1])
    whole = T.BinnedAUROC(8, n_bins=5)
    whole.update(logits, targets, columns)
    monkeypatch.setattr(T, "_AUROC_BLOCK", 12)  # two rows per block, the last block a single row
    blocked = T.BinnedAUROC(8, n_bins=5)
    blocked.update(logits, targets, columns)
    assert torch.equal(whole.counts, blocked.counts)
    assert int(whole.counts.sum()) == 42 and int(whole.counts[1].sum()) == int(targets.sum())
    # hand count: the logit 1.0 of a positive in output 4 lands in bin floor((1 + 10) / 4) = 2
    single = T.BinnedAUROC(6, n_bins=5)
    single.update(torch.tensor([[1.0]]), torch.tensor([[1.0]]), torch.tensor([4]))
    assert torch.nonzero(single.counts).tolist() == [[1, 4 * 5 + 2]]


def test_early_stopping_keras_semantics():
    stopper = T.EarlyStopping(patience=2, min_delta=0.01)
    assert stopper.update(0.5, 0)
    assert not stopper.update(0.505, 1)  # below min_delta: no improvement
    assert not stopper.should_stop
    assert not stopper.update(0.4, 2)
    assert stopper.should_stop and stopper.best == 0.5 and stopper.best_epoch == 0
    restored = T.EarlyStopping()
    restored.load_state_dict(stopper.state_dict())
    assert restored == stopper
    with pytest.raises(SeqatacInputError, match="mode"):
        T.EarlyStopping(mode="up")


def test_checkpoint_round_trip_with_rng_states(tmp_path):
    rng = np.random.default_rng(3)
    rng.random(5)
    generator = torch.Generator().manual_seed(4)
    state = {"model": {"w": torch.arange(3.0)}, "numpy_rng": T.numpy_rng_state(rng),
             "torch_rng": generator.get_state(), "history": [{"epoch": 1, "loss": 0.5}]}
    T.save_checkpoint(state, tmp_path / "c.pt")
    loaded = T.load_checkpoint(tmp_path / "c.pt")
    assert loaded["format_version"] == T.CHECKPOINT_FORMAT_VERSION
    other = np.random.default_rng(0)
    T.set_numpy_rng_state(other, loaded["numpy_rng"])
    assert other.random() == rng.random()
    resumed = torch.Generator()
    resumed.set_state(loaded["torch_rng"])
    assert torch.equal(torch.rand(3, generator=resumed), torch.rand(3, generator=generator))
    with pytest.raises(SeqatacInputError, match="no checkpoint"):
        T.load_checkpoint(tmp_path / "missing.pt")


def test_device_precision_and_threads():
    assert _torch.select_device("cpu") == torch.device("cpu")
    assert _torch.select_device("auto").type in ("cpu", "cuda")
    with pytest.raises(SeqatacInputError):
        _torch.select_device("tpu:0")
    cpu = torch.device("cpu")
    assert _torch.resolve_precision("fp32", cpu) == "fp32"
    assert _torch.resolve_precision("auto", cpu) == ("bf16" if _torch.cpu_supports_bf16() else "fp32")
    with pytest.raises(SeqatacInputError, match="precision"):
        _torch.resolve_precision("fp16", cpu)
    before = torch.get_num_threads()
    with T.num_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    assert not T.is_distributed() and T.rank_and_world() == (0, 1)
