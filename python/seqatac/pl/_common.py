"""What the plotting functions share: importing pyplot, and saving (atomically) or returning a figure."""

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
    import matplotlib.pyplot as plt

    if tight:
        fig.tight_layout()
    if title:
        fig.suptitle(title, fontsize=11, y=1.0 + 0.1 / fig.get_figheight(), va="bottom")
    if save is not None:
        with atomic_path(save) as tmp:
            fig.savefig(tmp, dpi=DPI, format=Path(save).suffix.lstrip(".") or "png", bbox_inches="tight")
        plt.close(fig)
    return fig
