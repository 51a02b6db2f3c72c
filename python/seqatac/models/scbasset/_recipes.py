"""Training recipes for scBasset: the authors' (default) and an opt-in fast-converging one (issue 18).

The authors' recipe starts the cell embedding (the last layer's weights, ``n_cells × bottleneck``) at
random and updates it with the same Adam learning rate as the sequence tower, once per batch of 128 peaks:
an epoch is ``n_train_peaks / 128`` Adam steps (36 on the simulator's ``small``), and the embedding stays
close to its random start for tens of epochs (label score at chance for ~30 epochs on ``small``).

``recipe="fast"`` changes only how the cell head starts and how fast it moves:

``cell_init="lsi"``
    Column 0 of the cell embedding is the same value (1) for every cell: a direction through which the
    tower can express a peak's overall accessibility, shared by all cells (without it the per-cell auROC
    stays at 0.5 until the head learns one: measured, 0.48 after an epoch on ``small``); it does not
    change cell-cell distances. Columns 1.. start from LSI of the **training peaks** of the same counts
    (TF-IDF, Signac method 1, :func:`seqatac.baselines.tfidf`, then a seeded randomized truncated SVD
    with ``bottleneck_size`` components; the first, depth-like component is dropped), as :func:`seqatac.baselines.lsi`: scores
    ``U · Σ`` z-scored per cell across components (ArchR's ``scaleDims``), then multiplied by the He-normal
    standard deviation the random start would have (``sqrt(2 / bottleneck_size)``), so the logits have the
    usual scale. The intercept starts at ``logit`` of each cell's open fraction over the training
    peaks (the depth it learns anyway). Held-out (validation/test) peaks are never used.
``head_warmup_epochs`` (fast: 1)
    The sequence tower starts random, so for the first epoch the cell head's learning rate ramps linearly
    from 0 to its value: the tower first learns to produce peak embeddings that the LSI cell embedding can
    read instead of the embedding drifting to fit random tower features.
``head_lr`` (fast: ``lr / 100``)
    Learning rate of the cell head (weights + intercept), an Adam parameter group of its own. At the tower's
    ``lr`` (0.01), Adam moves every embedding entry by up to 0.01 a step whatever the gradient's size, and
    the gradients a still-untrained tower sends are mostly noise: on ``small`` the LSI start's label score
    (k = 50) fell from 0.838 to 0.755 in 9 epochs and to 0.643 by epoch 16, while the tower learnt. At
    ``lr / 100`` it stayed at 0.838 (0.835 at ``lr / 10``) with the same validation auROC after 9 epochs
    (0.783 vs 0.790 at ``lr``, 0.782 at ``lr / 10``), so the sequence tower learns to read the LSI
    embedding instead of the embedding drifting to fit it.

``CPU_ARCHITECTURE`` (an architecture preset to pass to :class:`ScBasset`, used with the fast recipe in the
benchmark): 512-bp windows instead of 1,344 (the simulator's peaks are 500 bp and their motifs sit in the
central 200 bp; real summit-centred peaks carry most of their motif signal within a few hundred bp of the
summit) and 128 filters in the stem and the width-1 layer instead of 288 / 256, the same depth and
bottleneck: 903,682 + 33·n_cells parameters (the authors' 4,513,960 + 33·n). On the 2 cores an epoch of
``small`` takes 4.4 s instead of 45–50 s, and measured on ``small`` (seed 0, fast recipe) its validation
per-cell auROC rose past the authors' architecture's plateau (0.79) to 0.822 after 100 epochs (7.4 min),
where the authors' architecture had done 9 epochs.

The schedule is a function of the global step only, so a resumed run recomputes the same learning rates:
determinism by seed and exact resume hold for every recipe.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch

from ..._errors import SeqatacInputError

RECIPES = ("authors", "fast")
#: Column 0 of the LSI-started cell embedding (same for every cell): the peak-popularity direction.
SHARED_COLUMN = 1.0

#: Option values the fast recipe sets when the caller leaves them at None.
FAST_DEFAULTS = {"cell_init": "lsi", "head_warmup_epochs": 1.0}
#: The fast recipe's cell-head learning rate, as a fraction of ``lr`` (when ``head_lr`` is left at None).
FAST_HEAD_LR_FRACTION = 0.01
#: A narrower, cropped tower for CPUs (see the module docstring): ``ScBasset(adata, genome, **CPU_ARCHITECTURE)``.
CPU_ARCHITECTURE = {"seq_len": 512, "n_filters_init": 128, "n_filters_pre_bottleneck": 128}
AUTHORS_DEFAULTS = {"cell_init": "random", "head_warmup_epochs": 0.0}


def recipe_defaults(recipe: str) -> dict:
    """The option values a recipe fills in for arguments left at None."""
    if recipe not in RECIPES:
        raise SeqatacInputError(f"recipe must be one of {RECIPES}, got {recipe!r}.")
    return dict(FAST_DEFAULTS if recipe == "fast" else AUTHORS_DEFAULTS)


def lsi_cell_embedding(targets, train_peaks: np.ndarray, n_components: int, *, seed: int) -> np.ndarray:
    """LSI of the training peaks' accessibility: ``(n_cells, n_components)`` float32, z-scored per cell.

    Parameters
    ----------
    targets
        The model's peak-major :class:`~seqatac.models._targets.PeakTargets`.
    train_peaks
        Indices of the training peaks (held-out peaks are never looked at).
    n_components
        Columns wanted (the bottleneck size); one more is computed and the first dropped.
    seed
        Seed of the randomized SVD.
    """
    from sklearn.decomposition import TruncatedSVD

    from ...baselines import tfidf

    sub = targets.subset_peaks(np.asarray(train_peaks))
    peak_major = sp.csr_matrix((np.ones(len(sub.indices), dtype=np.float32), sub.indices, sub.indptr),
                               shape=(len(train_peaks), targets.n_cells))
    counts = peak_major.T.tocsr()  # cells × training peaks
    matrix = tfidf(counts)
    k = n_components + 1
    if min(matrix.shape) <= k:
        raise SeqatacInputError(
            f"cell_init='lsi' needs more than {k} cells and training peaks (got {matrix.shape}); "
            "use cell_init='random'."
        )
    svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=7, random_state=int(seed) % 2**32)
    components = svd.fit_transform(matrix)[:, 1:]  # U · Σ, as seqatac.baselines.lsi
    # z-score each cell across components (ArchR's scaleDims, seqatac.baselines.lsi's default)
    components = components - components.mean(axis=1, keepdims=True)
    sd = components.std(axis=1, keepdims=True)
    components = components / np.where(sd > 0, sd, 1.0)
    # sign convention (SVD signs are arbitrary): the largest |loading| of each column is positive
    signs = np.sign(components[np.abs(components).argmax(axis=0), np.arange(components.shape[1])])
    return (components * np.where(signs == 0, 1.0, signs)).astype(np.float32)


@torch.no_grad()
def initialise_cell_head(module, targets, train_peaks: np.ndarray, *, seed: int) -> None:
    """Set the cell head from LSI (weights) and the cells' open fractions (intercept), in place."""
    size = module.config.bottleneck_size
    weight = np.empty((targets.n_cells, size), dtype=np.float32)
    # column 0: the same value for every cell, a direction the tower can use for a peak's overall
    # accessibility (LSI's dropped first component); it leaves cell-cell distances unchanged
    weight[:, 0] = SHARED_COLUMN
    if size > 1:
        scale = math.sqrt(2.0 / size)  # He-normal sd of the random start
        weight[:, 1:] = lsi_cell_embedding(targets, train_peaks, size - 1, seed=seed) * scale
    module.cell_head.weight.copy_(torch.from_numpy(weight))
    sub = targets.subset_peaks(np.asarray(train_peaks))
    open_cells = np.bincount(sub.indices, minlength=targets.n_cells) / max(len(train_peaks), 1)
    fraction = np.clip(open_cells, 1e-4, 1 - 1e-4)
    module.cell_head.bias.copy_(torch.from_numpy(np.log(fraction / (1 - fraction)).astype(np.float32)))


def head_lr_factor(step: int, warmup_steps: int) -> float:
    """Multiplier on the cell head's learning rate at a global step (linear warm-up from 0)."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, (step + 1) / warmup_steps)
