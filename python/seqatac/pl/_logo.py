"""Sequence logos of motifs, and de novo motifs shown beside their best-matching known motif."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._errors import SeqatacInputError
from ..data import Motif
from ._common import figure_docstring, finish_figure, pyplot

#: Letter colours of the usual nucleotide logos (A green, C blue, G orange, T red).
COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}


def _pfm(motif) -> np.ndarray:
    pfm = motif.pfm if isinstance(motif, Motif) else np.asarray(motif, dtype=float)
    if pfm.ndim != 2 or pfm.shape[1] != 4 or len(pfm) == 0:
        raise SeqatacInputError(f"a motif PFM must have shape (L, 4) with columns A, C, G, T; got {pfm.shape}.")
    return np.asarray(pfm, dtype=float)


def information_content(pfm: np.ndarray, pseudocount: float = 1e-3) -> np.ndarray:
    """Letter heights (L, 4) of an information-content logo: ``p · (2 − H)`` bits per column."""
    p = (pfm + pseudocount) / (pfm + pseudocount).sum(axis=1, keepdims=True)
    entropy = -(p * np.log2(p)).sum(axis=1)
    return pfm * (2.0 - entropy)[:, None]


def _draw_letter(ax, letter: str, x: float, y: float, height: float) -> None:
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import PathPatch
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    box = path.get_extents()
    transform = (Affine2D().translate(-box.x0, -box.y0)
                 .scale(0.9 / box.width, height / box.height).translate(x + 0.05, y))
    ax.add_patch(PathPatch(transform.transform_path(path), facecolor=COLORS[letter], edgecolor="none"))


def _draw_logo(ax, pfm: np.ndarray, offset: int = 0) -> None:
    heights = information_content(pfm)
    for position, column in enumerate(heights):
        y = 0.0
        for base in np.argsort(column, kind="stable"):  # the tallest letter on top
            if column[base] > 1e-3:
                _draw_letter(ax, "ACGT"[base], offset + position, y, column[base])
                y += column[base]


@figure_docstring
def motif_logo(motif, *, title: str | None = None, ax=None, save: str | Path | None = None):
    """Information-content sequence logo of one motif.

    Parameters
    ----------
    motif
        A :class:`~seqatac.data.Motif` or a PFM array (L, 4), columns A, C, G, T.
    title
        Panel title (default: the motif's name and id).
    ax
        Draw into this matplotlib Axes instead of a new figure.
    {save}

    {returns}.
    """
    plt = pyplot(save)
    pfm = _pfm(motif)
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.35 * len(pfm) + 1.0, 1.6))
    else:
        fig = ax.figure
    _draw_logo(ax, pfm)
    ax.set_xlim(0, len(pfm))
    ax.set_ylim(0, 2)
    ax.set_ylabel("bits", fontsize=8)
    ax.set_xticks([])
    if title is None and isinstance(motif, Motif):
        title = f"{motif.name} ({motif.id})" if motif.name != motif.id else motif.id
    if title:
        ax.set_title(title, fontsize=9)
    return finish_figure(fig, save) if save is not None else fig


def best_alignment(query: np.ndarray, target: np.ndarray, *, min_overlap: int = 5) -> tuple[int, bool, float]:
    """Ungapped alignment of ``target`` to ``query`` maximising the summed Pearson correlation of columns.

    Returns ``(offset, reverse, score)``: ``target`` (reverse-complemented when ``reverse``) starts at query
    column ``offset`` (negative: before the query); ``score`` is the summed correlation over the query length.
    """
    def standardise(pfm):
        centred = pfm - pfm.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(centred, axis=1, keepdims=True)
        return centred / np.where(norm > 0, norm, 1.0)

    q = standardise(query)
    best = (0, False, -np.inf)
    overlap_needed = min(min_overlap, len(query), len(target))
    for reverse in (False, True):
        t = standardise(target[::-1, ::-1] if reverse else target)
        correlation = q @ t.T  # (Lq, Lt)
        for offset in range(-(len(t) - 1), len(q)):
            rows = np.arange(max(0, offset), min(len(q), offset + len(t)))
            if len(rows) < overlap_needed:
                continue
            score = float(correlation[rows, rows - offset].sum() / len(q))
            if score > best[2]:
                best = (offset, reverse, score)
    return best


@figure_docstring
def motif_matches(
    pairs: Sequence[tuple[Motif, Motif | None]],
    *,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    save: str | Path | None = None,
):
    """De novo motifs (left) beside their best-matching known motif (right), aligned column to column.

    The known motif is reverse-complemented and shifted to its best ungapped alignment with the de novo
    PFM (summed column Pearson correlation), so that matching columns sit one above the other.

    Parameters
    ----------
    pairs
        ``(de novo motif, known motif or None)`` per row.
    labels
        One line of text per row (e.g. the cell group and the similarity); default the motifs' names.
    title
        Figure title.
    {save}

    {returns}.
    """
    plt = pyplot(save)
    pairs = list(pairs)
    if not pairs:
        fig, ax = plt.subplots(figsize=(6, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no de novo motif was found", ha="center", va="center")
        return finish_figure(fig, save) if save is not None else fig
    if labels is not None and len(labels) != len(pairs):
        raise SeqatacInputError(f"labels has {len(labels)} entries for {len(pairs)} motif pairs.")
    layouts = []
    for query, known in pairs:
        q = _pfm(query)
        if known is None:
            layouts.append((q, None, 0, False, 0, len(q)))
            continue
        t = _pfm(known)
        offset, reverse, _ = best_alignment(q, t)
        t = t[::-1, ::-1] if reverse else t
        layouts.append((q, t, offset, reverse, min(0, offset), max(len(q), offset + len(t))))
    span = max(right - left for *_, left, right in layouts)
    fig, axes = plt.subplots(len(pairs), 2, figsize=(2 * (0.3 * span + 1.2), 1.5 * len(pairs) + 0.4), squeeze=False)
    for row, ((query, known), (q, t, offset, reverse, left, right)) in enumerate(zip(pairs, layouts)):
        for ax in axes[row]:
            ax.set_xlim(left - 0.5, left + span + 0.5)
            ax.set_ylim(0, 2)
            ax.set_xticks([])
            ax.tick_params(labelsize=7)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        _draw_logo(axes[row, 0], q)
        label = labels[row] if labels is not None else getattr(query, "name", f"motif {row + 1}")
        axes[row, 0].set_title(label, fontsize=8, loc="left")
        axes[row, 0].set_ylabel("bits", fontsize=7)
        if t is None:
            axes[row, 1].axis("off")
            axes[row, 1].text(0.5, 0.5, "no known match", ha="center", va="center", fontsize=8,
                              transform=axes[row, 1].transAxes)
            continue
        _draw_logo(axes[row, 1], t, offset)
        name = f"{known.name} ({known.id})" if isinstance(known, Motif) else "known motif"
        axes[row, 1].set_title(name + (", reverse complement" if reverse else ""), fontsize=8, loc="left")
    return finish_figure(fig, save, title=title)
