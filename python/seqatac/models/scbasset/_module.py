"""The scBasset network as a pure ``nn.Module`` (Yuan & Kelley, Nat. Methods 2022): tensors in, dicts out.

Layout: every convolution is a ``Conv2d`` with a ``(1, k)`` kernel over ``(batch, channels, 1, length)``
activations. This is numerically a ``Conv1d`` but lets oneDNN use its fast channels-last (NHWC) kernels on
CPU, the layout the module switches to with :meth:`ScBassetModule.use_channels_last`. The parameter shapes
do not depend on the memory layout, so checkpoints are interchangeable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..._errors import SeqatacInputError
from ..._utils import is_finite_number, is_whole

#: Keras ``BatchNormalization`` defaults used by the authors: epsilon 1e-3, momentum 0.9 (PyTorch 0.1).
BN_EPS, BN_MOMENTUM = 1e-3, 0.1
#: Keras ``he_normal`` draws a normal truncated at 2 sd; this rescales the sd so the variance is 2 / fan_in.
_TRUNCATED_NORMAL_SD = 0.87962566103423978


@dataclass(frozen=True)
class ScBassetConfig:
    """Architecture of :class:`ScBassetModule`; the defaults are the authors' (4,513,960 + 33·n_cells parameters).

    Attributes
    ----------
    n_cells
        Output units, one per cell.
    n_batches
        Batches for scBasset-BC (0 = no batch path).
    seq_len
        Input length in bp.
    n_filters_init, stem_kernel_size, stem_pool_size
        The stem convolution block.
    n_tower_layers, tower_kernel_size, tower_pool_size, filters_mult
        The convolution tower: block ``i`` has ``round(n_filters_init · filters_mult**i)`` filters.
    n_filters_pre_bottleneck
        Filters of the width-1 convolution before the bottleneck.
    bottleneck_size
        Size of the peak embedding (and of the cell embedding).
    dropout
        Dropout rate after the bottleneck BatchNorm.
    """

    n_cells: int
    n_batches: int = 0
    seq_len: int = 1344
    n_filters_init: int = 288
    stem_kernel_size: int = 17
    stem_pool_size: int = 3
    n_tower_layers: int = 6
    tower_kernel_size: int = 5
    tower_pool_size: int = 2
    filters_mult: float = 1.122
    n_filters_pre_bottleneck: int = 256
    bottleneck_size: int = 32
    dropout: float = 0.2

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in ("filters_mult", "dropout"):
                continue
            if not is_whole(value) or value < (0 if field.name == "n_batches" else 1):
                raise SeqatacInputError(
                    f"scBasset architecture: {field.name}={value!r} must be an integer >= "
                    f"{0 if field.name == 'n_batches' else 1}; fix that argument."
                )
        for name in ("filters_mult", "dropout"):
            if not is_finite_number(getattr(self, name)):
                raise SeqatacInputError(f"scBasset architecture: {name}={getattr(self, name)!r} must be a finite number.")
        if not self.filters_mult > 0:
            raise SeqatacInputError(f"scBasset architecture: filters_mult={self.filters_mult!r} must be > 0.")
        if not 0 <= self.dropout < 1:
            raise SeqatacInputError(f"scBasset architecture: dropout={self.dropout!r} must lie in [0, 1).")

    @property
    def tower_filters(self) -> list[int]:
        """Filters of each tower block (the authors round ``n_filters_init · filters_mult**i``)."""
        filters, current = [], float(self.n_filters_init)
        for _ in range(self.n_tower_layers):
            filters.append(int(np.round(current)))
            current *= self.filters_mult
        return filters

    @property
    def final_length(self) -> int:
        """Positions left after all pooling (7 for the defaults)."""
        length = math.ceil(self.seq_len / self.stem_pool_size)
        for _ in range(self.n_tower_layers):
            length = math.ceil(length / self.tower_pool_size)
        return length

    def to_dict(self) -> dict:
        """JSON-ready dict of the fields."""
        return asdict(self)


#: GELU's sigmoid approximation is x · sigmoid(1.702 x) = silu(1.702 x) / 1.702.
GELU_SCALE = 1.702


def gelu(x: torch.Tensor) -> torch.Tensor:
    """The sigmoid approximation of GELU used by the authors, ``x · sigmoid(1.702 x)``."""
    return F.silu(GELU_SCALE * x) / GELU_SCALE


class ConvBlock(nn.Module):
    """Pre-activation block: GELU → Conv (no bias, "same" padding) → BatchNorm → MaxPool.

    For speed the block works on activations scaled by :data:`GELU_SCALE`: it takes ``1.702 · x`` and
    returns ``1.702 · block(x)``. Then its GELU is a single fused ``silu`` (``silu(1.702 x) = 1.702 ·
    gelu(x)``), the 1/1.702 is folded into the (small) convolution weight and the next 1.702 into the
    BatchNorm affine parameters, and max-pooling commutes with the positive scale. The parameters and the
    function computed are exactly the authors'; only the rounding differs.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, pool_size: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, (1, kernel_size), padding="same", bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.pool_size = pool_size

    def forward(self, scaled_x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(F.silu(scaled_x), self.conv.weight / GELU_SCALE, padding="same")
        x = _batch_norm(self.bn, x, scale=GELU_SCALE)
        if self.pool_size > 1:
            # ceil_mode keeps a trailing partial window (Keras pads "same"; the default lengths divide evenly)
            x = F.max_pool2d(x, (1, self.pool_size), ceil_mode=True)
        return x


def _batch_norm(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor, *, scale: float = 1.0) -> torch.Tensor:
    """``scale · bn(x)`` with the scale folded into the affine parameters (same running statistics)."""
    if bn.training:
        bn.num_batches_tracked.add_(1)
    return F.batch_norm(
        x, bn.running_mean, bn.running_var, bn.weight * scale, bn.bias * scale,
        training=bn.training, momentum=bn.momentum, eps=bn.eps,
    )


class ScBassetModule(nn.Module):
    """scBasset: a CNN maps a peak's DNA to a bottleneck vector, a linear layer maps it to every cell.

    Parameters
    ----------
    config
        :class:`ScBassetConfig` (or the same fields as keyword arguments via :meth:`from_kwargs`).
    batch_onehot
        ``(n_batches, n_cells)`` 0/1 matrix for scBasset-BC (required when ``config.n_batches > 0``).

    Notes
    -----
    Inputs are one-hot ``(batch, 4, seq_len)`` float tensors (channels A, C, G, T). Outputs are logits;
    the sigmoid belongs to the loss. The cell embedding is ``cell_head.weight`` ``(n_cells, bottleneck)``
    and the per-cell intercept is ``cell_head.bias``.
    """

    def __init__(self, config: ScBassetConfig, *, batch_onehot: torch.Tensor | np.ndarray | None = None):
        super().__init__()
        self.config = config
        filters = config.tower_filters
        self.stem = ConvBlock(4, config.n_filters_init, config.stem_kernel_size, config.stem_pool_size)
        channels, blocks = config.n_filters_init, []
        for out_channels in filters:
            blocks.append(ConvBlock(channels, out_channels, config.tower_kernel_size, config.tower_pool_size))
            channels = out_channels
        self.tower = nn.Sequential(*blocks)
        self.pre_bottleneck = ConvBlock(channels, config.n_filters_pre_bottleneck, 1)
        self.bottleneck = nn.Linear(config.final_length * config.n_filters_pre_bottleneck,
                                    config.bottleneck_size, bias=False)
        self.bottleneck_bn = nn.BatchNorm1d(config.bottleneck_size, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.cell_head = nn.Linear(config.bottleneck_size, config.n_cells)
        if config.n_batches:
            if batch_onehot is None:
                raise SeqatacInputError(
                    f"scBasset-BC with {config.n_batches} batches needs batch_onehot of shape "
                    f"({config.n_batches}, {config.n_cells}); pass the batch-by-cell indicator matrix."
                )
            batch_onehot = torch.as_tensor(np.asarray(batch_onehot), dtype=torch.float32)
            if tuple(batch_onehot.shape) != (config.n_batches, config.n_cells):
                raise SeqatacInputError(
                    f"batch_onehot has shape {tuple(batch_onehot.shape)}, expected "
                    f"({config.n_batches}, {config.n_cells}) (batches × cells)."
                )
            self.batch_head = nn.Linear(config.bottleneck_size, config.n_batches)
            self.register_buffer("batch_onehot", batch_onehot)
        else:
            self.batch_head = None
        self.reset_parameters()

    # ------------------------------------------------------------------------------------------ setup

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """He-normal (truncated, as Keras) weights, zero biases, BatchNorm gamma 1 / beta 0, fresh running stats.

        scBasset-BC's two heads use Glorot-uniform weights, Keras' ``Dense`` default the authors kept there.
        """
        for module in self.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.reset_parameters()
            elif isinstance(module, (nn.Conv2d, nn.Linear)):
                bc_head = self.batch_head is not None and module in (self.cell_head, self.batch_head)
                with torch.no_grad():
                    fan_in = module.weight[0].numel()
                    if bc_head:
                        bound = math.sqrt(6.0 / (fan_in + module.weight.shape[0]))
                        module.weight.uniform_(-bound, bound, generator=generator)
                    else:
                        sd = math.sqrt(2.0 / fan_in) / _TRUNCATED_NORMAL_SD
                        nn.init.trunc_normal_(module.weight, std=sd, a=-2 * sd, b=2 * sd, generator=generator)
                    if module.bias is not None:
                        module.bias.zero_()

    def use_channels_last(self, enabled: bool = True) -> "ScBassetModule":
        """Store convolution weights (and expect activations) in channels-last layout; returns ``self``."""
        self.to(memory_format=torch.channels_last if enabled else torch.contiguous_format)
        self._channels_last = enabled
        return self

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # ------------------------------------------------------------------------------------------ forward

    def embed(self, x: torch.Tensor, *, dropout_generator: torch.Generator | None = None) -> torch.Tensor:
        """Peak embedding (the bottleneck after GELU) of one-hot sequences.

        Parameters
        ----------
        x
            ``(batch, 4, seq_len)`` one-hot (or soft) sequences.
        dropout_generator
            Generator for the dropout mask in training mode (default: torch's global generator).

        Returns
        -------
        ``(batch, bottleneck_size)`` tensor.
        """
        if x.dim() != 3 or x.shape[1] != 4 or x.shape[2] != self.config.seq_len:
            raise SeqatacInputError(
                f"scBasset expects one-hot input of shape (batch, 4, {self.config.seq_len}), got "
                f"{tuple(x.shape)}; encode sequences of length {self.config.seq_len} with channels A, C, G, T."
            )
        x = x.unsqueeze(2)  # (batch, 4, 1, L)
        if getattr(self, "_channels_last", False):
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.pre_bottleneck(self.tower(self.stem(GELU_SCALE * x)))  # 1.702 · activations, see ConvBlock
        # GELU, then flatten position-major like Keras' (batch, length, channels) reshape
        x = F.silu(x).permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        with torch.autocast(x.device.type, enabled=False):  # the small dense layers stay in float32
            x = self.bottleneck_bn(F.linear(x.float(), self.bottleneck.weight / GELU_SCALE))
            if self.training and self.config.dropout > 0:
                keep = 1.0 - self.config.dropout
                mask = torch.empty_like(x).bernoulli_(keep, generator=dropout_generator)
                x = x * mask / keep
            return gelu(x)

    def forward(
        self,
        x: torch.Tensor,
        *,
        cell_index: torch.Tensor | None = None,
        dropout_generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """Per-cell accessibility logits of one-hot sequences.

        Parameters
        ----------
        x
            ``(batch, 4, seq_len)`` one-hot sequences.
        cell_index
            Optional ``(m,)`` long tensor: compute logits only for these cells (cell minibatching).
        dropout_generator
            Generator for the dropout mask in training mode.

        Returns
        -------
        ``{"peak_embedding": (batch, bottleneck), "logits": (batch, n_cells or m)}``.
        """
        embedding = self.embed(x, dropout_generator=dropout_generator)
        weight, bias = self.cell_head.weight, self.cell_head.bias
        onehot = getattr(self, "batch_onehot", None)
        if cell_index is not None:
            weight, bias = weight[cell_index], bias[cell_index]
            onehot = onehot[:, cell_index] if onehot is not None else None
        with torch.autocast(embedding.device.type, enabled=False):  # float32 logits, also under autocast
            logits = F.linear(embedding, weight, bias)
            if self.batch_head is not None:
                logits = logits + self.batch_head(embedding) @ onehot
        return {"peak_embedding": embedding, "logits": logits}

    def loss(
        self,
        outputs: dict[str, torch.Tensor],
        targets: torch.Tensor,
        *,
        l2_cell: float = 0.0,
        l2_batch: float = 0.0,
        bce_scale: float = 1.0,
    ) -> dict[str, torch.Tensor]:
        """Mean binary cross-entropy over peaks × cells plus the scBasset-BC L2 penalties.

        Parameters
        ----------
        outputs
            :meth:`forward` output.
        targets
            ``(batch, n_cells or m)`` 0/1 accessibility.
        l2_cell, l2_batch
            ``λ · Σ w²`` on the cell-embedding weights and on the batch-path weights (Keras' ``l2``).
        bce_scale
            Factor on the cross-entropy term (DDP uses it when ranks hold unequal shares of a batch).

        Returns
        -------
        ``{"loss": total, "bce": unscaled mean cross-entropy}``, scalar tensors.
        """
        bce = F.binary_cross_entropy_with_logits(outputs["logits"].float(), targets.float())
        loss = bce * bce_scale if bce_scale != 1.0 else bce
        if l2_cell:
            loss = loss + l2_cell * self.cell_head.weight.float().pow(2).sum()
        if l2_batch and self.batch_head is not None:
            loss = loss + l2_batch * self.batch_head.weight.float().pow(2).sum()
        return {"loss": loss, "bce": bce.detach()}


class NormalizedOutput(nn.Module):
    """Depth-normalised per-cell output of a :class:`ScBassetModule` (the intercept is dropped).

    ``forward(x)`` returns ``embed(x) @ W.T`` (``output="logits"``, as for ISM) or its sigmoid
    (``output="denoised"``, the denoised accessibility), shape ``(batch, n_cells)``; ``output="embedding"``
    returns the peak embedding ``(batch, bottleneck)``. Parameters are shared with the wrapped module.
    """

    OUTPUTS = ("logits", "denoised", "embedding")

    def __init__(self, module: ScBassetModule, output: str = "denoised"):
        super().__init__()
        if output not in self.OUTPUTS:
            raise SeqatacInputError(f"output must be one of {self.OUTPUTS}, got {output!r}.")
        self.module = module
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        embedding = self.module.embed(x)
        if self.output == "embedding":
            return embedding
        with torch.autocast(embedding.device.type, enabled=False):
            logits = embedding @ self.module.cell_head.weight.T
            return torch.sigmoid(logits) if self.output == "denoised" else logits
