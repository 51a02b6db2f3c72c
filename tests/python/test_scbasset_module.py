"""scBasset's nn.Module: parameter counts, the authors' layer semantics, initialisation, heads and loss."""

import math

import numpy as np
import pytest
import torch
from seqatac import SeqatacInputError
from seqatac.models.scbasset import NormalizedOutput, ScBassetConfig, ScBassetModule
from torch.nn import functional as F

TINY = dict(seq_len=60, n_filters_init=6, stem_kernel_size=5, stem_pool_size=3, n_tower_layers=2,
            tower_kernel_size=3, filters_mult=1.5, n_filters_pre_bottleneck=4, bottleneck_size=3)


@pytest.mark.parametrize("n_cells", [1, 2034])
def test_default_parameter_count_is_the_authors(n_cells):
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        module = ScBassetModule(ScBassetConfig(n_cells=n_cells))
    assert module.n_parameters == 4_513_960 + 33 * n_cells
    running = sum(b.numel() for name, b in module.named_buffers() if "running" in name)
    assert running == 5_850
    assert module.config.tower_filters == [288, 323, 363, 407, 456, 512]
    assert module.config.final_length == 7
    # bias only on the last layer
    assert [n for n, _ in module.named_parameters() if n.endswith("bias") and ".bn" not in n
            and "bn." not in n] == ["cell_head.bias"]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _gelu(x):
    return x * torch.sigmoid(1.702 * x)


def _reference_forward(module: ScBassetModule, x: torch.Tensor, training: bool) -> torch.Tensor:
    """The authors' network written plainly with Conv1d / MaxPool1d (Keras layer order)."""

    def bn(layer, t):
        return F.batch_norm(t, layer.running_mean.clone(), layer.running_var.clone(), layer.weight, layer.bias,
                            training=training, eps=1e-3)

    def block(blk, t):
        weight = blk.conv.weight[:, :, 0, :]
        t = bn(blk.bn, F.conv1d(_gelu(t), weight, padding=weight.shape[-1] // 2))
        return F.max_pool1d(t, blk.pool_size, ceil_mode=True) if blk.pool_size > 1 else t

    t = block(module.stem, x)
    for blk in module.tower:
        t = block(blk, t)
    t = block(module.pre_bottleneck, t)
    t = _gelu(t).transpose(1, 2).reshape(len(x), -1)  # (batch, length, channels), position-major
    z = _gelu(bn(module.bottleneck_bn, t @ module.bottleneck.weight.T))
    return z @ module.cell_head.weight.T + module.cell_head.bias


@pytest.mark.parametrize("channels_last", [False, True])
def test_forward_matches_plain_reference(channels_last):
    module = ScBassetModule(ScBassetConfig(n_cells=5, dropout=0.0, **TINY))
    module.reset_parameters(torch.Generator().manual_seed(1))
    with torch.no_grad():  # non-trivial BatchNorm parameters and statistics
        for layer in module.modules():
            if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.uniform_(-0.3, 0.3)
                layer.running_mean.uniform_(-0.2, 0.2)
                layer.running_var.uniform_(0.5, 2.0)
    module.use_channels_last(channels_last)
    x = F.one_hot(torch.randint(0, 4, (7, 60), generator=_gen(0)), 4).float().transpose(1, 2)
    for training in (True, False):
        module.train(training)
        expected = _reference_forward(module, x, training)
        got = module(x)["logits"]
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_batchnorm_running_stats_update_like_keras_momentum():
    module = ScBassetModule(ScBassetConfig(n_cells=2, dropout=0.0, **TINY))
    x = torch.rand(9, 4, 60, generator=_gen(1))
    module.train()
    module(x)
    stem = module.stem
    with torch.no_grad():
        conv = F.conv1d(_gelu(x), stem.conv.weight[:, :, 0, :], padding=2)
    # Keras momentum 0.9: new = 0.9 * old + 0.1 * batch (PyTorch momentum 0.1)
    torch.testing.assert_close(stem.bn.running_mean, 0.1 * conv.mean(dim=(0, 2)), rtol=1e-4, atol=1e-6)
    assert stem.bn.eps == 1e-3 and int(stem.bn.num_batches_tracked) == 1


def test_he_normal_truncated_init_and_zero_bias():
    config = ScBassetConfig(n_cells=3000, seq_len=96, n_filters_init=64, n_tower_layers=2)
    module = ScBassetModule(config)
    module.reset_parameters(torch.Generator().manual_seed(0))
    for layer in (module.tower[0].conv, module.cell_head):
        weight = layer.weight.detach()
        fan_in = weight[0].numel()
        assert abs(weight.var().item() / (2 / fan_in) - 1) < 0.05  # variance 2 / fan_in
        sd = math.sqrt(2 / fan_in) / 0.87962566103423978
        assert weight.abs().max().item() <= 2 * sd + 1e-6  # truncated at 2 sd
    assert torch.count_nonzero(module.cell_head.bias) == 0
    again = ScBassetModule(config)
    again.reset_parameters(torch.Generator().manual_seed(0))
    assert torch.equal(again.tower[0].conv.weight, module.tower[0].conv.weight)


def test_cell_index_computes_a_subset_of_the_logits():
    module = ScBassetModule(ScBassetConfig(n_cells=6, **TINY)).eval()
    x = torch.rand(4, 4, 60, generator=_gen(1))
    full = module(x)["logits"]
    cells = torch.tensor([1, 4, 5])
    torch.testing.assert_close(module(x, cell_index=cells)["logits"], full[:, cells])


def test_batch_path_adds_the_batch_logit_of_each_cell():
    onehot = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=np.float32)
    module = ScBassetModule(ScBassetConfig(n_cells=4, n_batches=2, **TINY), batch_onehot=onehot).eval()
    assert module.n_parameters == ScBassetModule(ScBassetConfig(n_cells=4, **TINY)).n_parameters + 2 * 4
    x = torch.rand(3, 4, 60, generator=_gen(1))
    out = module(x)
    z = out["peak_embedding"]
    batch_logit = module.batch_head(z)  # (3, 2)
    cell_logit = z @ module.cell_head.weight.T + module.cell_head.bias
    expected = cell_logit + batch_logit[:, [0, 0, 1, 1]]
    torch.testing.assert_close(out["logits"], expected)
    with pytest.raises(SeqatacInputError, match="batch_onehot"):
        ScBassetModule(ScBassetConfig(n_cells=4, n_batches=2, **TINY))


def test_loss_is_bce_plus_l2_penalties():
    onehot = np.eye(2, dtype=np.float32)
    module = ScBassetModule(ScBassetConfig(n_cells=2, n_batches=2, **TINY), batch_onehot=onehot)
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.sigmoid(logits)
    bce = -(targets * p.log() + (1 - targets) * (1 - p).log()).mean()
    losses = module.loss({"logits": logits}, targets, l2_cell=0.1, l2_batch=0.01)
    expected = bce + 0.1 * module.cell_head.weight.pow(2).sum() + 0.01 * module.batch_head.weight.pow(2).sum()
    torch.testing.assert_close(losses["loss"], expected)
    torch.testing.assert_close(losses["bce"], bce)


def test_dropout_uses_the_given_generator():
    module = ScBassetModule(ScBassetConfig(n_cells=2, **TINY)).train()
    x = torch.rand(8, 4, 60, generator=_gen(1))
    a = module(x, dropout_generator=torch.Generator().manual_seed(5))["logits"]
    b = module(x, dropout_generator=torch.Generator().manual_seed(5))["logits"]
    c = module(x, dropout_generator=torch.Generator().manual_seed(6))["logits"]
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_normalized_output_drops_the_intercept():
    module = ScBassetModule(ScBassetConfig(n_cells=3, **TINY)).eval()
    with torch.no_grad():
        module.cell_head.bias.fill_(5.0)
    x = torch.rand(2, 4, 60, generator=_gen(1))
    z = module.embed(x)
    torch.testing.assert_close(NormalizedOutput(module, "logits")(x), z @ module.cell_head.weight.T)
    torch.testing.assert_close(NormalizedOutput(module, "denoised")(x), torch.sigmoid(z @ module.cell_head.weight.T))
    torch.testing.assert_close(NormalizedOutput(module, "embedding")(x), z)


def test_bad_config_and_input_are_clear_errors():
    with pytest.raises(SeqatacInputError, match="n_filters_init"):
        ScBassetConfig(n_cells=3, n_filters_init=0)
    with pytest.raises(SeqatacInputError, match="dropout"):
        ScBassetConfig(n_cells=3, dropout=1.0)
    module = ScBassetModule(ScBassetConfig(n_cells=3, **TINY))
    with pytest.raises(SeqatacInputError, match=r"\(batch, 4, 60\)"):
        module(torch.rand(2, 4, 59, generator=_gen(1)))
