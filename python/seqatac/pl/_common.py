"""What the plotting functions share: importing pyplot, saving (atomically) or returning a figure, and the
docstring text that says so."""

from __future__ import annotations

from pathlib import Path

from .._utils import atomic_path

DPI = 110


def pyplot(save=None):
    """``matplotlib.pyplot``, on the non-interactive Agg backend when the figure is only written to a file."""
    import matplotlib

    if save is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def finish_figure(fig, save: str | Path | None, *, title: str | None = None, tight: bool = True):
    """Lay out ``fig`` and put ``title`` above the panels (after the layout, so that it never covers a panel's
    own title; saving with a tight bounding box keeps it); with ``save``, write the figure atomically (format
    from the suffix) and close it. Returns ``fig``."""
    if tight:
        fig.tight_layout()
    if title:
        fig.suptitle(title, fontsize=11, y=1.0 + 0.1 / fig.get_figheight(), va="bottom")
    return save_figure(fig, save, bbox_inches="tight")


def save_figure(fig, save: str | Path | None, *, bbox_inches: str | None = None):
    """With ``save``, write ``fig`` there atomically (format from the suffix) and close it. Returns ``fig``."""
    import matplotlib.pyplot as plt

    if save is not None:
        with atomic_path(save) as tmp:
            fig.savefig(tmp, dpi=DPI, format=Path(save).suffix.lstrip(".") or "png", bbox_inches=bbox_inches)
        plt.close(fig)
    return fig


# text every plotting function's docstring shares, put in place of the keys by `figure_docstring`
_SHARED_DOCS = {
    "{save}": "save\n        Write the figure to this path (atomically; format from the suffix) and close it.",
    "{returns}": "Returns\n    -------\n    The matplotlib ``Figure``",
}


def figure_docstring(function):
    """Decorator: the shared text of the ``save`` parameter and of ``Returns`` in place of ``{save}`` and
    ``{returns}`` in ``function``'s docstring."""
    for key, text in _SHARED_DOCS.items():
        if function.__doc__:  # None under python -OO
            function.__doc__ = function.__doc__.replace(key, text)
    return function
