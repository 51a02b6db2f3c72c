"""Starting point for EpiFoundation's peak embedding without pre-training: LSI loadings of the peaks.

Each peak token's embedding row becomes that peak's loadings on the leading components of a truncated SVD
of the cells' TF-IDF (:func:`seqatac.baselines.tfidf`, binary, scikit-learn's randomized SVD). The encoder
then starts out pooling, over a cell's peaks, vectors whose mean is close to the cell's LSI coordinates,
instead of random ones, which matters when a few hundred labelled cells are all there is.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..._errors import SeqatacInputError
from ...baselines import tfidf
from ._tokenizer import N_SPECIAL, CellTokens

#: LSI components written into the peak embedding (the rest of its columns start at 0) and their RMS.
DEFAULT_COMPONENTS = 32
DEFAULT_SCALE = 1.0


def token_matrix(cells: CellTokens, n_peaks: int, rows: np.ndarray | None = None) -> sp.csr_matrix:
    """Binary cells × vocabulary-peaks CSR of the tokens of ``rows`` (default: every cell)."""
    rows = np.arange(len(cells)) if rows is None else np.asarray(rows)
    lengths = cells.n_peaks[rows]
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    columns = np.concatenate([cells.tokens[cells.indptr[r]:cells.indptr[r + 1]] for r in rows]) - N_SPECIAL
    return sp.csr_matrix((np.ones(len(columns), dtype=np.float32), columns, indptr), shape=(len(rows), n_peaks))


def lsi_peak_loadings(matrix: sp.csr_matrix, *, n_components: int, width: int, seed: int,
                      scale: float) -> np.ndarray:
    """Peak loadings (n_peaks, ``width``): right singular vectors 2 .. ``n_components`` + 1 of ``tfidf(matrix)``,
    each divided by its singular value, in the first columns, zeros in the others; peaks open in no cell get a
    zero row. Dividing by the singular values gives every component the same weight in a cell's pooled vector,
    as LSI's per-component scaling does (the embedding's LayerNorm removes a row's scale, not the balance of its
    columns). The first component is
    left out, as Signac leaves out LSI 1: on binary TF-IDF it follows sequencing depth, and all its loadings
    share one sign, so after the embedding's LayerNorm it would swamp the others (Schep 2017 fold 0, 15-NN
    on the mean of the normalised rows: accuracy 0.54 with it, 0.77 without).
    The loadings are rescaled to a root mean square of ``scale`` over the peaks seen.

    The embedding's LayerNorm removes each row's scale from the forward pass, but Adam moves an entry by up
    to ~``lr`` per step whatever its size, so ``scale`` sets how long the LSI start survives training.

    Raises
    ------
    SeqatacInputError
        Fewer than 3 cells or peaks, or ``n_components`` outside [1, ``width``].
    """
    from sklearn.decomposition import TruncatedSVD

    if not 1 <= n_components <= width:
        raise SeqatacInputError(f"n_components must lie in [1, {width}] (d_model), got {n_components!r}.")
    n_cells, n_peaks = matrix.shape
    k = min(n_components, n_cells - 2, n_peaks - 2)
    if k < 1:
        raise SeqatacInputError(f"LSI initialisation needs at least 3 cells and 3 peaks, got {n_cells} × {n_peaks}.")
    svd = TruncatedSVD(n_components=k + 1, algorithm="randomized", n_iter=7, random_state=int(seed) % 2**32)
    svd.fit(tfidf(matrix))
    loadings = np.zeros((n_peaks, width), dtype=np.float32)
    loadings[:, :k] = svd.components_[1:].T / svd.singular_values_[1:]
    seen = np.asarray(matrix.sum(axis=0)).ravel() > 0
    loadings[~seen] = 0.0
    rms = float(np.sqrt(np.mean(loadings[seen, :k] ** 2))) if seen.any() else 0.0
    return loadings * (scale / rms) if rms > 0 else loadings


@torch.no_grad()
def start_as_lsi_pooling(module, loadings: np.ndarray) -> None:
    """Set ``module`` so that, untrained, it embeds a cell as the LayerNorm of the mean of its peaks' rows.

    The peak rows become ``loadings``; the [CLS] row and the chromosome LayerNorm's gain start at 0 (so a
    token is its peak row alone and [CLS] adds nothing); in every block the query projection starts at 0
    (uniform attention), the value and output projections at the identity, and the FFN's output layer at
    0 (the residual branch is the identity, as in Fixup / ReZero-style starts). Every weight stays trainable
    and receives gradients from the first step.
    """
    d = module.config.d_model
    embedding = module.peak_embedding.embedding.weight
    embedding[N_SPECIAL:] = torch.from_numpy(loadings).to(embedding)
    embedding[:N_SPECIAL] = 0.0
    if module.chromosome_embedding is not None:
        module.chromosome_embedding.norm.weight.zero_()
        module.chromosome_embedding.norm.bias.zero_()
    eye = torch.eye(d, dtype=embedding.dtype)
    for block in module.blocks:
        block.qkv.weight[:d] = 0.0
        block.qkv.bias.zero_()
        block.qkv.weight[2 * d:] = eye
        block.out_proj.weight.copy_(eye)
        block.out_proj.bias.zero_()
        block.linear2.weight.zero_()
        block.linear2.bias.zero_()
