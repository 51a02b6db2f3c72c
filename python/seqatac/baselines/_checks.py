"""Checks the embeddings share: how many components a data set of this size can give."""

from __future__ import annotations

from .._errors import SeqatacInputError


def check_n_components(n_components: int, *, least: int, most: int, data: str, needs: str, more: str) -> None:
    """Refuse ``n_components`` outside ``least..most``, naming the limit the data set sets.

    Parameters
    ----------
    n_components
        The number asked for.
    least, most
        The range that works (``most`` follows from the numbers of cells and peaks).
    data
        The method and the data, e.g. ``"LSI of 1 cell × 60 peaks"``.
    needs
        Why the data bounds the number, e.g. ``"truncated SVD needs more cells and peaks than components"``.
    more
        The smallest data set that works, e.g. ``"at least 3 cells and 3 peaks"``.
    """
    if least <= n_components <= most:
        return
    if most < least:
        raise SeqatacInputError(
            f"{data} is not possible: {needs}, which takes {more}. Fix: pass a larger data set (did a filter or "
            f"a subset remove nearly all cells or peaks?)."
        )
    fits = f"n_components = {least}" if most == least else f"n_components between {least} and {most}"
    raise SeqatacInputError(
        f"{data} cannot give n_components = {n_components}: {needs}. Fix: pass {fits}, or a larger data set."
    )


def plural(n: int, noun: str) -> str:
    """``"1 cell"``, ``"2 cells"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
