"""Scatter plots of 2-D cell layouts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .._errors import SeqatacInputError
from ._common import figure_docstring, pyplot, save_figure


@figure_docstring
def embedding(
    adata: AnnData,
    *,
    basis: str,
    color: str | Sequence[str],
    title: str | None = None,
    point_size: float | None = None,
    save: str | Path | None = None,
):
    """Scatter a 2-D layout coloured by one or more ``obs`` columns, one panel per column.

    Parameters
    ----------
    adata
        AnnData with ``obsm[basis]`` of shape (n_cells, ≥ 2).
    basis
        Key in ``obsm``; the first two columns are plotted.
    color
        ``obs`` column(s); categorical columns get a legend, numeric ones a colour bar.
    title
        Figure title.
    point_size
        Marker size; default scales with the number of cells.
    {save}

    {returns} (closed and still returned when ``save`` is given).
    """
    plt = pyplot(save)
    if basis not in adata.obsm:
        raise SeqatacInputError(
            f"obsm[{basis!r}] does not exist (have {sorted(adata.obsm.keys())}); compute a layout first "
            "with seqatac.tl.layout_2d."
        )
    columns = [color] if isinstance(color, str) else list(color)
    missing = [c for c in columns if c not in adata.obs]
    if missing:
        raise SeqatacInputError(f"obs has no column(s) {missing}; available: {list(adata.obs.columns)}.")
    coords = np.asarray(adata.obsm[basis])[:, :2]
    size = point_size or float(np.clip(20_000 / max(adata.n_obs, 1), 0.5, 30))
    fig, axes = plt.subplots(1, len(columns), figsize=(5.2 * len(columns), 4.6), squeeze=False)
    order = np.random.default_rng(0).permutation(adata.n_obs)  # no group drawn systematically on top
    for ax, column in zip(axes[0], columns):
        values = adata.obs[column]
        if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or values.dtype == bool:
            categories = pd.Categorical(values)
            cmap = plt.get_cmap("tab20" if len(categories.categories) > 10 else "tab10")
            for i, category in enumerate(categories.categories):
                ax.scatter([], [], s=20, color=cmap(i % cmap.N), label=str(category))
            ax.scatter(coords[order, 0], coords[order, 1], s=size, linewidths=0,
                       c=[cmap(code % cmap.N) for code in categories.codes[order]])
            ax.legend(fontsize=7, markerscale=1.0, frameon=False, loc="center left", bbox_to_anchor=(1, 0.5))
        else:
            points = ax.scatter(coords[order, 0], coords[order, 1], s=size, linewidths=0,
                                c=np.asarray(values, dtype=float)[order], cmap="viridis")
            fig.colorbar(points, ax=ax, shrink=0.8)
        ax.set_title(column)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{basis} 1")
        ax.set_ylabel(f"{basis} 2")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, save)
