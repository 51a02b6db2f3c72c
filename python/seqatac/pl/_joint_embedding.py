"""Cells and motifs in one 2-D layout of a shared embedding space (CellSpace's joint UMAP)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .._errors import SeqatacInputError
from ._common import figure_docstring, pyplot, save_figure


@figure_docstring
def joint_embedding(
    adata: AnnData,
    motif_embedding: pd.DataFrame,
    *,
    use_rep: str = "X_cellspace",
    color: str | None = None,
    label_motifs: list[str] | None = None,
    method: str = "auto",
    random_state: int = 0,
    title: str | None = None,
    save: str | Path | None = None,
):
    """Lay out cells and motifs together (UMAP, or t-SNE without umap-learn) and plot them.

    Both sets of vectors are L2-normalised first, so the layout reflects cosine similarity, the
    similarity CellSpace trains with.

    Parameters
    ----------
    adata
        AnnData with the cell embedding in ``obsm[use_rep]`` ``(n_cells, d)``.
    motif_embedding
        ``(n_motifs, d)`` DataFrame indexed by motif name (``CellSpace.get_motif_embedding``, or the
        ``embedding`` of :func:`seqatac.tl.denovo_motifs`).
    use_rep
        Key of the cell embedding.
    color
        ``obs`` column colouring the cells (categorical: legend; numeric: colour bar).
    label_motifs
        Motifs to annotate with their name; default: all when there are at most 30, else none.
    method
        ``"umap"``, ``"tsne"`` or ``"auto"`` (see :func:`seqatac.tl.layout_2d`).
    random_state
        Seed of the layout.
    title
        Figure title.
    {save}

    {returns}; ``fig.layout_`` holds the ``(n_cells + n_motifs, 2)`` coordinates (cells first).
    """
    from ..tl import layout_2d

    plt = pyplot(save)
    if use_rep not in adata.obsm:
        raise SeqatacInputError(f"obsm[{use_rep!r}] does not exist (have {sorted(adata.obsm.keys())}).")
    cells = np.asarray(adata.obsm[use_rep], dtype=np.float64)
    motifs = np.asarray(motif_embedding, dtype=np.float64)
    if motifs.ndim != 2 or motifs.shape[1] != cells.shape[1]:
        raise SeqatacInputError(
            f"motif_embedding has shape {motifs.shape} but the cell embedding has {cells.shape[1]} dimensions; "
            "embed the motifs with the same model."
        )
    if color is not None and color not in adata.obs:
        raise SeqatacInputError(f"obs has no column {color!r}; available: {list(adata.obs.columns)}.")
    keep = np.isfinite(motifs).all(axis=1)
    motifs, names = motifs[keep], np.asarray(motif_embedding.index.astype(str))[keep]
    stacked = np.vstack([cells, motifs])
    stacked /= np.maximum(np.linalg.norm(stacked, axis=1, keepdims=True), 1e-12)
    joint = AnnData(obs=pd.DataFrame(index=[f"row{i}" for i in range(len(stacked))]))
    joint.obsm["joint"] = stacked.astype(np.float32)
    layout_2d(joint, use_rep="joint", method=method, key_added="layout", random_state=random_state)
    coords = joint.obsm["layout"]
    cell_xy, motif_xy = coords[: len(cells)], coords[len(cells) :]

    fig, ax = plt.subplots(figsize=(7.5, 6))
    size = max(1.0, 60_000 / max(len(cells), 1) ** 1.1)
    if color is None:
        ax.scatter(cell_xy[:, 0], cell_xy[:, 1], s=size, c="lightgrey", linewidths=0, label="cells")
    else:
        values = adata.obs[color]
        if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or values.dtype == bool:
            categories = pd.Categorical(values)
            cmap = plt.get_cmap("tab20" if len(categories.categories) > 10 else "tab10")
            for i, category in enumerate(categories.categories):
                inside = categories.codes == i
                ax.scatter(cell_xy[inside, 0], cell_xy[inside, 1], s=size, color=cmap(i % cmap.N), linewidths=0,
                           label=str(category))
        else:
            points = ax.scatter(cell_xy[:, 0], cell_xy[:, 1], s=size, c=np.asarray(values, dtype=float),
                                cmap="viridis", linewidths=0)
            fig.colorbar(points, ax=ax, shrink=0.8, label=color)
    ax.scatter(motif_xy[:, 0], motif_xy[:, 1], s=28, marker="D", c="black", edgecolors="white", linewidths=0.5,
               label="motifs")
    shown = set(names if label_motifs is None and len(names) <= 30 else (label_motifs or []))
    for (x, y), name in zip(motif_xy, names):
        if name in shown:
            ax.annotate(name, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=7)
    ax.legend(fontsize=7, markerscale=1.5, frameon=False, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("joint layout 1")
    ax.set_ylabel("joint layout 2")
    ax.set_title(title or "cells and motifs")
    fig.tight_layout()
    fig.layout_ = coords
    return save_figure(fig, save)
