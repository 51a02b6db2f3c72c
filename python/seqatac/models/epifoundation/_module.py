"""EpiFoundation's networks (pure ``nn.Module``s: tensors in, tensors out; no AnnData).

Wu et al., "EpiFoundation: A Foundation Model for Single-Cell ATAC-seq via Peak-to-Gene Alignment" (2025).
The encoder reads *packed* batches: the tokens of all cells concatenated, ``(n_tokens,)``, with
``cu_seqlens`` ``(n_cells + 1,)`` marking where each cell starts. Linear layers, LayerNorms and the FFN
therefore never see padding, and attention runs cell by cell through
``torch.nn.functional.scaled_dot_product_attention`` restricted to the fused (flash / memory-efficient)
kernels, so no ``L × L`` matrix is ever built and a cell's output does not depend on how it is batched.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..._errors import SeqatacInputError
from ..._utils import is_whole
from ._tokenizer import N_CHROMOSOME_IDS, N_SPECIAL

#: Fused SDPA kernels only: the math fallback would materialise the L × L attention matrix.
_FUSED_ATTENTION = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION]

#: Architecture presets. ``reference`` is the paper's (6 post-norm blocks of d 512, 8 heads, FFN 1,024).
PRESETS: dict[str, dict] = {
    "reference": dict(d_model=512, n_layers=6, n_heads=8, d_ff=1024, dropout=0.15, max_len=12_000, max_genes=8000),
    "small": dict(d_model=128, n_layers=2, n_heads=4, d_ff=256, dropout=0.1, max_len=2048, max_genes=2048),
    "tiny": dict(d_model=32, n_layers=1, n_heads=2, d_ff=64, dropout=0.1, max_len=256, max_genes=256),
}  # fmt: skip


@dataclass
class EpiFoundationConfig:
    """Sizes of an :class:`EpiFoundationModule`.

    Attributes
    ----------
    n_peaks
        Peaks in the vocabulary (token ids add ``N_SPECIAL`` = 4 specials).
    n_genes
        Genes of the alignment / expression decoders (0: no gene decoders).
    n_cell_types
        Classes of the cell-type head (0: no head).
    n_batches
        Batches of the optional batch embedding, fused into the gene decoders only (0: none).
    d_model, n_layers, n_heads, d_ff, dropout
        Transformer encoder (post-norm, ReLU).
    max_len
        Longest input sequence, [CLS] included (longer cells are sampled down).
    max_genes
        Genes sampled per cell in training (half expressed, half not).
    query_dim
        Width of the concat-query decoders (authors: 128).
    decoder
        Style of the two gene decoders, both in the authors' code: ``"concat_query"`` (their configuration:
        gene query and cell embedding concatenated → MLP) or ``"inner_product"`` (their decoder's default:
        gene query · cell embedding, one bilinear score per output). The concat-query MLP adds gene and cell
        effects and learns their interaction slowly; the inner product makes every gene a linear read-out
        of the cell embedding, which learns cell-specific expression in far fewer steps on small data.
    n_expression_bins
        Expression levels of the expression head (bin 0 = not expressed).
    use_chromosomes
        Add a chromosome embedding to peak and gene tokens.
    """

    n_peaks: int
    n_genes: int = 0
    n_cell_types: int = 0
    n_batches: int = 0
    d_model: int = 512
    n_layers: int = 6
    n_heads: int = 8
    d_ff: int = 1024
    dropout: float = 0.15
    max_len: int = 12_000
    max_genes: int = 8000
    query_dim: int = 128
    decoder: str = "concat_query"
    n_expression_bins: int = 10
    use_chromosomes: bool = True

    def __post_init__(self):
        for name in ("n_peaks", "d_model", "n_layers", "n_heads", "d_ff", "query_dim"):
            value = getattr(self, name)
            if not is_whole(value) or value < 1:
                raise SeqatacInputError(f"{name} must be a positive integer, got {value!r}.")
        for name in ("n_genes", "n_cell_types", "n_batches"):
            if int(getattr(self, name)) < 0:
                raise SeqatacInputError(f"{name} must be >= 0, got {getattr(self, name)!r}.")
        if self.d_model % self.n_heads:
            raise SeqatacInputError(
                f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}; pick n_heads dividing d_model."
            )
        if not 0 <= self.dropout < 1:
            raise SeqatacInputError(f"dropout must lie in [0, 1), got {self.dropout!r}.")
        if self.max_len < 2:
            raise SeqatacInputError(f"max_len must be >= 2 ([CLS] plus one peak), got {self.max_len!r}.")
        if self.max_genes < 2:
            raise SeqatacInputError(f"max_genes must be >= 2, got {self.max_genes!r}.")
        if self.decoder not in DECODERS:
            raise SeqatacInputError(f"decoder must be one of {tuple(DECODERS)}, got {self.decoder!r}.")
        if self.n_expression_bins < 2:
            raise SeqatacInputError(f"n_expression_bins must be >= 2, got {self.n_expression_bins!r}.")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> EpiFoundationConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})


def dropout(x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout drawing its mask from ``generator`` (a local stream, for reproducible training)."""
    if not training or p == 0:
        return x
    scale = torch.empty_like(x).bernoulli_(1 - p, generator=generator).mul_(1 / (1 - p))
    return x * scale


class TokenEmbedding(nn.Module):
    """Embedding followed by LayerNorm (authors' ``GeneEncoder``)."""

    def __init__(self, n_tokens: int, d_model: int, padding_idx: int | None = 0):
        super().__init__()
        self.embedding = nn.Embedding(n_tokens, d_model, padding_idx=padding_idx)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.norm(self.embedding(ids))


def packed_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens: torch.Tensor) -> torch.Tensor:
    """Self-attention within each packed sequence, with fused SDPA kernels only.

    Sequences of equal length go through one ``scaled_dot_product_attention`` call as a batch (after
    sampling to ``max_len`` most long cells share that length); no padding is ever attended to.

    Parameters
    ----------
    q, k, v
        Shape (n_tokens, n_heads, head_dim).
    cu_seqlens
        Shape (n_sequences + 1,): sequence boundaries.

    Returns
    -------
    Shape (n_tokens, n_heads · head_dim).
    """
    starts, lengths = cu_seqlens[:-1], cu_seqlens[1:] - cu_seqlens[:-1]
    values, positions = [], []
    with sdpa_kernel(_FUSED_ATTENTION):
        for length in torch.unique(lengths).tolist():
            index = starts[lengths == length].unsqueeze(1) + torch.arange(length, device=q.device)
            # (n_sequences, heads, L, head_dim): fused kernels need 4-D inputs
            group = [t[index].transpose(1, 2) for t in (q, k, v)]
            attended = F.scaled_dot_product_attention(*group)
            values.append(attended.transpose(1, 2).reshape(index.numel(), -1))
            positions.append(index.reshape(-1))
    order = torch.argsort(torch.cat(positions))
    return torch.cat(values)[order]


class EncoderBlock(nn.Module):
    """Post-norm Transformer block (same parameters as ``nn.TransformerEncoderLayer``, ReLU)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, p_dropout: float):
        super().__init__()
        self.n_heads, self.p_dropout = n_heads, p_dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, cu_seqlens: torch.Tensor, generator: torch.Generator | None = None):
        """``x`` (n_tokens, d_model) packed, ``cu_seqlens`` (n_cells + 1,) its cell boundaries; same shape out."""
        n_tokens, d_model = x.shape
        q, k, v = self.qkv(x).view(n_tokens, 3, self.n_heads, d_model // self.n_heads).unbind(1)
        attended = self.out_proj(packed_attention(q, k, v, cu_seqlens))
        x = self.norm1(x + dropout(attended, self.p_dropout, self.training, generator))
        hidden = dropout(F.relu(self.linear1(x)), self.p_dropout, self.training, generator)
        return self.norm2(x + dropout(self.linear2(hidden), self.p_dropout, self.training, generator))


class ConcatQueryDecoder(nn.Module):
    """Authors' "concat query" decoder: per gene, [cell input, sigmoid(Linear(gene))] → 128 → PReLU → out."""

    def __init__(self, d_cell: int, d_gene: int, query_dim: int, n_outputs: int):
        super().__init__()
        self.gene2query = nn.Linear(d_gene, query_dim)
        self.fc1 = nn.Linear(d_cell + query_dim, query_dim)
        self.activation = nn.PReLU()
        self.fc2 = nn.Linear(query_dim, n_outputs)

    def forward(self, cell: torch.Tensor, genes: torch.Tensor) -> torch.Tensor:
        """``cell`` (n_cells, d_cell), ``genes`` (n_cells, n_genes, d_gene) → (n_cells, n_genes, n_outputs)."""
        query = torch.sigmoid(self.gene2query(genes))
        cell = cell.unsqueeze(1).expand(-1, genes.shape[1], -1)
        return self.fc2(self.activation(self.fc1(torch.cat([cell, query], dim=-1))))


class InnerProductDecoder(nn.Module):
    """Authors' "inner product" decoder: per gene and output, W_o·sigmoid(Linear(gene)) · cell.

    Takes the same arguments as :class:`ConcatQueryDecoder`; ``query_dim`` is unused (the query keeps the
    gene width, as in the authors' code).
    """

    def __init__(self, d_cell: int, d_gene: int, query_dim: int, n_outputs: int):
        super().__init__()
        self.n_outputs = n_outputs
        self.gene2query = nn.Linear(d_gene, d_gene)
        self.W = nn.Linear(d_gene, d_cell * n_outputs, bias=False)

    def forward(self, cell: torch.Tensor, genes: torch.Tensor) -> torch.Tensor:
        """``cell`` (n_cells, d_cell), ``genes`` (n_cells, n_genes, d_gene) → (n_cells, n_genes, n_outputs)."""
        weights = self.W(torch.sigmoid(self.gene2query(genes)))
        weights = weights.unflatten(-1, (self.n_outputs, cell.shape[-1]))
        return torch.einsum("cgod,cd->cgo", weights, cell)


DECODERS = {"concat_query": ConcatQueryDecoder, "inner_product": InnerProductDecoder}


class CellTypeHead(nn.Module):
    """[Linear(d, d) → ReLU → LayerNorm] × 2 → Linear(d, n_cell_types) (authors' ``ClsDecoder``)."""

    def __init__(self, d_model: int, n_cell_types: int):
        super().__init__()
        layers = []
        for _ in range(2):
            layers += [nn.Linear(d_model, d_model), nn.ReLU(), nn.LayerNorm(d_model)]
        self.hidden = nn.Sequential(*layers)
        self.out = nn.Linear(d_model, n_cell_types)

    def forward(self, cell_embedding: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(cell_embedding))


#: Standard deviation of the embedding tables at initialisation (BERT's 0.02; torch's default is 1).
EMBEDDING_INIT_STD = 0.02


@torch.no_grad()
def initialise(root: nn.Module, generator: torch.Generator | None = None) -> None:
    """(Re)initialise ``root``'s parameters from ``generator``: torch's defaults (Linear: U(±1/√fan_in);
    LayerNorm: 1, 0; PReLU: 0.25) except the embedding tables, N(0, 0.02²) with the padding row 0.

    Every table is followed by a LayerNorm, so the scale of its rows does not change the forward pass, but
    Adam moves rows by ~lr per step whatever their scale: at torch's N(0, 1) the peak embeddings (each seen
    by a few % of the cells) barely move in a CPU-sized run and the [CLS] output stays nearly the same for
    every cell; at 0.02 they learn ~50× faster (medium simulation, 1,024 cells, 96 steps at lr 1e-3:
    held-out annotation accuracy 0.43 vs 0.24)."""
    for module in root.modules():
        if isinstance(module, nn.Linear):
            bound = 1 / math.sqrt(module.in_features)
            nn.init.uniform_(module.weight, -bound, bound, generator=generator)
            if module.bias is not None:
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=EMBEDDING_INIT_STD, generator=generator)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.PReLU):
            nn.init.constant_(module.weight, 0.25)


def build_module(config: EpiFoundationConfig, *, seed: int) -> EpiFoundationModule:
    """An :class:`EpiFoundationModule` on the CPU, initialised from a local generator seeded with ``seed``
    (built on the ``meta`` device first, so torch's global generator is never used)."""
    with torch.device("meta"):
        module = EpiFoundationModule(config)
    module = module.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(int(seed))
    module.reset_parameters(generator)
    return module


#: Parameter-name prefixes each task trains (everything else is frozen during that task).
_HEADS = {"pretrain": "alignment_decoder", "expression": "expression_decoder", "annotate": "cell_type_head"}
TASKS = tuple(_HEADS)


class EpiFoundationModule(nn.Module):
    """Peak encoder with a [CLS] cell embedding, gene decoders and a cell-type head.

    Parameters
    ----------
    config
        :class:`EpiFoundationConfig`.

    Notes
    -----
    Input embedding = LayerNorm(peak embedding) + LayerNorm(chromosome embedding), dropout, ``n_layers``
    post-norm blocks, final LayerNorm; the [CLS] output is the cell embedding. A gene token is
    LayerNorm(gene embedding) + the shared chromosome embedding. With batches, LayerNorm(batch embedding)
    is concatenated to the cell embedding as the gene decoders' input only (the cell embedding stays
    batch-free). The authors' code also batch-normalises the input embeddings; this module does not
    (BatchNorm over tokens would make a cell's output depend on its batch mates in training).
    """

    def __init__(self, config: EpiFoundationConfig):
        super().__init__()
        self.config = config
        d = config.d_model
        self.peak_embedding = TokenEmbedding(N_SPECIAL + config.n_peaks, d)
        self.chromosome_embedding = TokenEmbedding(N_CHROMOSOME_IDS, d) if config.use_chromosomes else None
        self.blocks = nn.ModuleList(
            EncoderBlock(d, config.n_heads, config.d_ff, config.dropout) for _ in range(config.n_layers)
        )
        self.norm = nn.LayerNorm(d)
        self.batch_embedding = TokenEmbedding(config.n_batches, d, padding_idx=None) if config.n_batches else None
        d_cell = 2 * d if config.n_batches else d
        if config.n_genes:
            self.gene_embedding = TokenEmbedding(config.n_genes + 1, d)
            decoder = DECODERS[config.decoder]
            self.alignment_decoder = decoder(d_cell, d, config.query_dim, 2)
            self.expression_decoder = decoder(d_cell, d, config.query_dim, 1)
        self.cell_type_head = CellTypeHead(d, config.n_cell_types) if config.n_cell_types else None

    # ------------------------------------------------------------------------------------- init

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Initialise every parameter from ``generator``, with torch's default distributions."""
        initialise(self, generator)

    def reset_cell_type_head(self, n_cell_types: int, generator: torch.Generator | None = None) -> None:
        """Replace the cell-type head by a freshly initialised one with ``n_cell_types`` classes."""
        self.config.n_cell_types = int(n_cell_types)
        with torch.device("meta"):
            head = CellTypeHead(self.config.d_model, n_cell_types)
        head = head.to_empty(device="cpu")
        initialise(head, generator)
        self.cell_type_head = head.to(self.norm.weight.device)

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        """Parameters trained by ``task``: the encoder (+ gene/batch embeddings) and that task's head."""
        if task not in _HEADS:
            raise SeqatacInputError(f"unknown task {task!r}; use one of {TASKS}.")
        frozen = tuple(head for name, head in _HEADS.items() if name != task)
        if task == "annotate":
            frozen += ("gene_embedding", "batch_embedding")
        return [p for name, p in self.named_parameters() if not name.startswith(frozen)]

    def head_parameters(self, task: str) -> list[nn.Parameter]:
        """The parameters of ``task``'s own head (the rest of :meth:`task_parameters` is the shared encoder)."""
        if task not in _HEADS:
            raise SeqatacInputError(f"unknown task {task!r}; use one of {TASKS}.")
        return [p for name, p in self.named_parameters() if name.startswith(_HEADS[task])]

    # ------------------------------------------------------------------------------------- forward

    def embed_cells(
        self,
        tokens: torch.Tensor,
        chromosomes: torch.Tensor | None,
        cu_seqlens: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Cell embeddings of a packed batch.

        Parameters
        ----------
        tokens
            Shape (n_tokens,): peak token ids, each cell starting with [CLS].
        chromosomes
            Shape (n_tokens,): chromosome ids (ignored without a chromosome embedding).
        cu_seqlens
            Shape (n_cells + 1,): cell boundaries in ``tokens``.
        generator
            Dropout stream in training mode.

        Returns
        -------
        Shape (n_cells, d_model): the final-LayerNorm [CLS] outputs.
        """
        x = self.peak_embedding(tokens)
        if self.chromosome_embedding is not None:
            x = x + self.chromosome_embedding(chromosomes)
        x = dropout(x, self.config.dropout, self.training, generator)
        for block in self.blocks:
            x = block(x, cu_seqlens, generator)
        return self.norm(x[cu_seqlens[:-1]])

    def decoder_input(self, cell_embedding: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
        """The gene decoders' cell input: the embedding, with the batch embedding concatenated if used.

        ``batch`` (n_cells,) holds batch ids; ``-1`` (an unseen batch) uses the mean batch embedding.
        """
        if self.batch_embedding is None:
            return cell_embedding
        if batch is None:
            raise SeqatacInputError("this model fuses a batch embedding: pass the batch of every cell.")
        known = batch >= 0
        table = self.batch_embedding(torch.arange(self.config.n_batches, device=batch.device))
        fused = table[batch.clamp(min=0)]
        fused = torch.where(known.unsqueeze(1), fused, table.mean(0, keepdim=True).expand_as(fused))
        return torch.cat([cell_embedding, fused.to(cell_embedding.dtype)], dim=-1)

    def gene_tokens(
        self, genes: torch.Tensor, chromosomes: torch.Tensor | None, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Gene token embeddings, ``genes`` (n_cells, n_genes) ids (0 = padding) → (n_cells, n_genes, d)."""
        x = self.gene_embedding(genes)
        if self.chromosome_embedding is not None:
            x = x + self.chromosome_embedding(chromosomes)
        return dropout(x, self.config.dropout, self.training, generator)

    def forward(
        self,
        tokens: torch.Tensor,
        chromosomes: torch.Tensor | None,
        cu_seqlens: torch.Tensor,
        *,
        task: str | None = None,
        genes: torch.Tensor | None = None,
        gene_chromosomes: torch.Tensor | None = None,
        batch: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """Encode a packed batch and apply one task's head.

        Parameters
        ----------
        tokens, chromosomes, cu_seqlens
            Packed peak tokens, as :meth:`embed_cells`.
        task
            ``"pretrain"`` (gene expressed or not), ``"expression"`` (expression level), ``"annotate"``
            (cell type) or None (embedding only).
        genes, gene_chromosomes
            Shape (n_cells, n_genes): gene token ids (0 = padding) and their chromosome ids, for the gene
            tasks.
        batch
            Shape (n_cells,): batch ids, when the model has a batch embedding.
        generator
            Dropout stream in training mode.

        Returns
        -------
        ``cell_embedding`` (n_cells, d_model) plus ``alignment_logits`` (n_cells, n_genes, 2),
        ``expression`` (n_cells, n_genes) or ``cell_type_logits`` (n_cells, n_cell_types) for the task.
        """
        cell_embedding = self.embed_cells(tokens, chromosomes, cu_seqlens, generator=generator)
        outputs = {"cell_embedding": cell_embedding}
        if task in ("pretrain", "expression"):
            if not self.config.n_genes:
                raise SeqatacInputError("this model has no genes; build it with paired RNA for gene tasks.")
            gene_embedding = self.gene_tokens(genes, gene_chromosomes, generator=generator)
            cell = self.decoder_input(cell_embedding, batch)
            if task == "pretrain":
                outputs["alignment_logits"] = self.alignment_decoder(cell, gene_embedding)
            else:
                outputs["expression"] = self.expression_decoder(cell, gene_embedding).squeeze(-1)
        elif task == "annotate":
            if self.cell_type_head is None:
                raise SeqatacInputError("this model has no cell-type head; fine-tune it with mode='annotate'.")
            outputs["cell_type_logits"] = self.cell_type_head(cell_embedding)
        elif task is not None:
            raise SeqatacInputError(f"unknown task {task!r}; use one of {TASKS} or None.")
        return outputs

    @staticmethod
    def loss(outputs: dict[str, torch.Tensor], targets: torch.Tensor, task: str,
             mask: torch.Tensor | None = None, *, class_weights: torch.Tensor | None = None,
             label_smoothing: float = 0.0) -> torch.Tensor:
        """Mean loss of a task: cross-entropy on expressed/not (pretrain) and cell type, MSE on levels.

        Parameters
        ----------
        outputs
            :meth:`forward`'s outputs for ``task``.
        targets
            (n_cells, n_genes) 0/1 (pretrain) or expression levels (expression); (n_cells,) class ids
            (annotate).
        mask
            (n_cells, n_genes) True on real (non-padding) genes.
        class_weights
            (n_cell_types,) weight of each class (annotate): the loss is the weighted mean
            ``Σ w[y_i] · CE_i / Σ w[y_i]`` over the batch (``torch.nn.functional.cross_entropy``'s ``weight``).
        label_smoothing
            Annotate: share of the target mass spread evenly over all classes.
        """
        if task == "pretrain":
            return F.cross_entropy(outputs["alignment_logits"][mask].float(), targets[mask].long())
        if task == "expression":
            return F.mse_loss(outputs["expression"][mask].float(), targets[mask].float())
        if task == "annotate":
            return F.cross_entropy(outputs["cell_type_logits"].float(), targets.long(), weight=class_weights,
                                   label_smoothing=label_smoothing)
        raise SeqatacInputError(f"unknown task {task!r}; use one of {TASKS}.")


def encoder_block_parameters(config: EpiFoundationConfig) -> int:
    """Parameters in the Transformer blocks of ``config`` (12,616,704 for the reference), built on ``meta``."""
    with torch.device("meta"):
        blocks = [EncoderBlock(config.d_model, config.n_heads, config.d_ff, config.dropout)
                  for _ in range(config.n_layers)]
    return sum(p.numel() for block in blocks for p in block.parameters())
