"""Training curves: each model's per-epoch history, one panel per model or training stage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import SeqatacInputError
from ._common import figure_docstring, finish_figure, pyplot


@figure_docstring
def training_curves(
    histories: Mapping[str, pd.DataFrame | Mapping[str, Sequence[float]]],
    *,
    columns: Mapping[str, Sequence[str]] | None = None,
    secondary: Mapping[str, Sequence[str]] | None = None,
    title: str | None = None,
    save: str | Path | None = None,
):
    """Per-epoch training history of one or more models, one panel each.

    Parameters
    ----------
    histories
        ``{panel title: history}``; a history is a DataFrame or a dict of equal-length lists with one row
        per epoch (an ``epoch`` column, when present, is the x axis; otherwise 1, 2, ...).
    columns
        ``{panel title: history columns}`` drawn on the left axis; default every column whose name
        contains ``"loss"``.
    secondary
        ``{panel title: history columns}`` drawn dashed on a right axis (e.g. an auROC or an accuracy).
    title
        Figure title.
    {save}

    {returns}.
    """
    plt = pyplot(save)
    if not histories:
        raise SeqatacInputError("histories is empty: pass {panel title: per-epoch history}.")
    frames = {name: pd.DataFrame(history) for name, history in histories.items()}
    n = len(frames)
    n_cols = min(n, 3)
    n_rows = int(np.ceil(n / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.4 * n_cols, 3.2 * n_rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, (name, frame) in zip(axes.ravel(), frames.items()):
        x = frame["epoch"].to_numpy() if "epoch" in frame else np.arange(1, len(frame) + 1)
        left = list((columns or {}).get(name, [c for c in frame.columns if "loss" in str(c)]))
        right = list((secondary or {}).get(name, []))
        missing = [c for c in left + right if c not in frame]
        if missing:
            raise SeqatacInputError(f"history {name!r} has no column(s) {missing}; it has {list(frame.columns)}.")
        marker = "o" if len(frame) <= 30 else None
        for i, column in enumerate(left):
            ax.plot(x, frame[column].to_numpy(float), marker=marker, ms=3, color=f"C{i}", label=column)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" if left else "")
        ax.set_title(f"{name} ({len(frame)} epoch{'s' if len(frame) != 1 else ''})", fontsize=10)
        handles, labels = ax.get_legend_handles_labels()
        if right:
            twin = ax.twinx()
            for i, column in enumerate(right, start=len(left)):
                twin.plot(x, frame[column].to_numpy(float), ls="--", marker=marker, ms=3, color=f"C{i}",
                          label=column)
            twin.set_ylabel(", ".join(right), fontsize=8)
            more_handles, more_labels = twin.get_legend_handles_labels()
            handles, labels = handles + more_handles, labels + more_labels
        if handles:
            ax.legend(handles, labels, fontsize=7, frameon=False)
    return finish_figure(fig, save, title=title)
