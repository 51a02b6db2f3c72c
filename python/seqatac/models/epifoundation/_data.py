"""Training inputs for EpiFoundation: expression levels, balanced gene samples, packed token batches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..._errors import SeqatacInputError
from ._tokenizer import CellTokens, pack_sequences


def bin_expression(counts, *, n_bins: int = 10) -> sp.csr_matrix:
    """Per-cell quantile levels of expression: 0 where not expressed, 1..``n_bins``-1 elsewhere.

    Each cell's non-zero values are cut at their ``n_bins - 1`` quantiles ``0, 1/(n_bins-2), …, 1`` and
    digitised (``np.digitize``, left-closed), as the authors' preprocessing does; the per-cell cut makes
    the levels independent of sequencing depth.

    Parameters
    ----------
    counts
        Shape (n_cells, n_genes), sparse or dense, non-negative.
    n_bins
        Number of levels, zero included (paper: 10).

    Returns
    -------
    ``float32`` CSR (n_cells, n_genes) with the sparsity pattern of the non-zero counts.
    """
    if n_bins < 3:
        raise SeqatacInputError(f"n_bins must be >= 3 (zero plus at least two levels), got {n_bins}.")
    matrix = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    matrix.eliminate_zeros()
    if matrix.nnz and matrix.data.min() < 0:
        raise SeqatacInputError("expression has negative values; pass raw counts (or normalised, non-negative).")
    quantiles = np.linspace(0.0, 1.0, n_bins - 1)
    levels = np.empty(matrix.nnz, dtype=np.float32)
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if end > start:
            values = matrix.data[start:end]
            levels[start:end] = np.digitize(values, np.quantile(values, quantiles))
    return sp.csr_matrix((levels, matrix.indices.copy(), matrix.indptr.copy()), shape=matrix.shape)


def sample_genes(
    expressed: np.ndarray, available: np.ndarray, max_genes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A balanced gene sample for one cell: as many expressed genes as not expressed ones.

    Up to ``max_genes // 2`` of each, limited by the smaller class; a cell with only one class keeps up to
    ``max_genes`` genes of it.

    Parameters
    ----------
    expressed
        Indices of the cell's expressed genes.
    available
        Shape (n_genes,), ``bool``: genes measured in this dataset (the others are never sampled).
    max_genes
        Most genes returned.

    Returns
    -------
    genes
        Gene indices (expressed ones first).
    is_expressed
        Same length, ``bool``.
    """
    unexpressed_mask = np.array(available, dtype=bool)
    unexpressed_mask[expressed] = False
    unexpressed = np.flatnonzero(unexpressed_mask)
    k = min(max_genes // 2, len(expressed), len(unexpressed))
    if k == 0:
        pool = expressed if len(expressed) else unexpressed
        chosen = rng.choice(pool, size=min(max_genes, len(pool)), replace=False)
        return chosen, np.full(len(chosen), bool(len(expressed)))
    chosen = np.concatenate([rng.choice(expressed, size=k, replace=False), rng.choice(unexpressed, size=k, replace=False)])
    return chosen, np.r_[np.ones(k, dtype=bool), np.zeros(k, dtype=bool)]


def token_batches(lengths: np.ndarray, order: np.ndarray, *, max_tokens: int, max_cells: int) -> list[np.ndarray]:
    """Cut ``order`` into consecutive batches holding at most ``max_tokens`` tokens and ``max_cells`` cells.

    Parameters
    ----------
    lengths
        Shape (n_cells,): input length of every cell.
    order
        Cells in the order to batch them.

    Returns
    -------
    List of cell-index arrays, in order.
    """
    batches, current, tokens = [], [], 0
    for cell in order:
        length = int(lengths[cell])
        if current and (tokens + length > max_tokens or len(current) == max_cells):
            batches.append(np.array(current, dtype=np.int64))
            current, tokens = [], 0
        current.append(cell)
        tokens += length
    if current:
        batches.append(np.array(current, dtype=np.int64))
    return batches


@dataclass
class TokenData:
    """Everything needed to build packed batches of a set of cells.

    Attributes
    ----------
    cells
        The cells' peak tokens.
    token_chromosomes
        Shape (vocabulary size,): chromosome id of every peak token.
    max_len
        Longest input ([CLS] included).
    batch
        Shape (n_cells,): batch id of every cell (``-1``: unseen batch), or None.
    labels
        Shape (n_cells,): cell-type class of every cell (``-1``: unlabelled), or None.
    genes
        CSR (n_cells, n_genes): expression levels (pretraining only needs ``> 0``), or None.
    genes_available
        Shape (n_genes,), ``bool``: the model's genes present in the RNA data.
    gene_chromosomes
        Shape (n_genes + 1,): chromosome id of every gene token (padding first), or None.
    max_genes
        Genes sampled per cell.
    """

    cells: CellTokens
    token_chromosomes: np.ndarray
    max_len: int
    batch: np.ndarray | None = None
    labels: np.ndarray | None = None
    genes: sp.csr_matrix | None = None
    genes_available: np.ndarray | None = None
    gene_chromosomes: np.ndarray | None = None
    max_genes: int = 0

    def __len__(self) -> int:
        return len(self.cells)

    def lengths(self) -> np.ndarray:
        """Input length of every cell, shape (n_cells,)."""
        return self.cells.sequence_lengths(self.max_len)

    def peak_inputs(self, cells: np.ndarray, rng) -> dict[str, np.ndarray]:
        """Packed ``tokens``, ``chromosomes`` (n_tokens,) and ``cu_seqlens`` (n_cells + 1,), plus ``batch``.

        ``rng`` samples the peaks of cells longer than ``max_len``: one ``np.random.Generator`` for the batch
        (training), or a function ``cell -> Generator`` (inference: a cell's input then depends only on the
        cell and the seed, not on its neighbours in the batch or its position in the data).
        """
        rng_of = rng if callable(rng) else (lambda _: rng)
        tokens, cu_seqlens = pack_sequences([self.cells.sequence(c, max_len=self.max_len, rng=rng_of(c))
                                             for c in cells])
        inputs = {"tokens": tokens, "chromosomes": self.token_chromosomes[tokens], "cu_seqlens": cu_seqlens}
        if self.batch is not None:
            inputs["batch"] = self.batch[cells]
        return inputs

    def training_batch(self, cells: np.ndarray, task: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Inputs and targets of one batch for ``task`` (``pretrain``, ``expression`` or ``annotate``).

        Gene tasks add ``genes``, ``gene_chromosomes``, ``targets`` and ``mask`` of shape
        (n_cells, most genes sampled), padded with gene token 0; ``annotate`` adds ``targets`` (n_cells,).
        """
        batch = self.peak_inputs(cells, rng)
        if task == "annotate":
            batch["targets"] = self.labels[cells]
            return batch
        n_genes = self.genes.shape[1]
        samples = []
        for cell in cells:
            start, end = self.genes.indptr[cell], self.genes.indptr[cell + 1]
            expressed, values = self.genes.indices[start:end], self.genes.data[start:end]
            chosen, is_expressed = sample_genes(expressed, self.genes_available, self.max_genes, rng)
            if task == "pretrain":
                target = is_expressed.astype(np.float32)
            else:
                level = np.zeros(n_genes, dtype=np.float32)
                level[expressed] = values
                target = level[chosen]
            samples.append((chosen, target))
        width = max(len(chosen) for chosen, _ in samples)
        genes = np.zeros((len(cells), width), dtype=np.int64)
        targets = np.zeros((len(cells), width), dtype=np.float32)
        for row, (chosen, target) in enumerate(samples):
            genes[row, : len(chosen)] = chosen + 1
            targets[row, : len(chosen)] = target
        batch |= {"genes": genes, "gene_chromosomes": self.gene_chromosomes[genes], "targets": targets,
                  "mask": genes > 0}
        return batch
