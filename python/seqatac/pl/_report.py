"""One self-contained HTML report: figures embedded as base64 PNG, tables and text, no external files or JS."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .._errors import SeqatacInputError
from .._utils import atomic_path
from ._common import DPI

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #eee; }
table { border-collapse: collapse; font-size: .85em; margin: .8em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f5f5f5; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; height: auto; display: block; margin: .6em 0; }
p.note { color: #555; font-size: .9em; }
nav a { margin-right: 1em; }
"""


def figure_to_data_uri(fig, *, dpi: int = DPI, close: bool = True) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URI (the figure is closed unless ``close=False``)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    if close:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _block(item) -> str:
    if isinstance(item, pd.DataFrame):
        return item.to_html(float_format=lambda v: f"{v:.3f}", na_rep="–", border=0, escape=True)
    if isinstance(item, str):
        return f'<p class="note">{html.escape(item)}</p>' if item.startswith("Note:") else f"<p>{html.escape(item)}</p>"
    if hasattr(item, "savefig"):
        return f'<img alt="figure" src="{figure_to_data_uri(item)}">'
    raise SeqatacInputError(
        f"a report block must be a matplotlib Figure, a DataFrame or a str, got {type(item).__name__}."
    )


def html_report(
    sections: Sequence[tuple[str, Sequence]],
    *,
    title: str,
    intro: Sequence[str] = (),
    save: str | Path | None = None,
) -> str:
    """Assemble a self-contained HTML page: every figure embedded as a base64 PNG, no external references.

    Parameters
    ----------
    sections
        ``(heading, blocks)`` pairs, in order; a block is a matplotlib ``Figure`` (embedded, then closed),
        a ``DataFrame`` (an HTML table, floats to 3 decimals) or a ``str`` (a paragraph; one starting with
        ``"Note:"`` is set as a note).
    title
        Page title and top heading.
    intro
        Paragraphs under the title.
    save
        Write the page to this path (UTF-8, atomically).

    Returns
    -------
    The HTML text.
    """
    anchors = [f"s{i}" for i in range(len(sections))]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *(f"<p>{html.escape(paragraph)}</p>" for paragraph in intro),
        "<nav>" + "".join(f'<a href="#{a}">{html.escape(h)}</a>' for a, (h, _) in zip(anchors, sections)) + "</nav>",
    ]
    for anchor, (heading, blocks) in zip(anchors, sections):
        parts.append(f'<h2 id="{anchor}">{html.escape(heading)}</h2>')
        parts.extend(_block(block) for block in blocks)
    parts.append("</body></html>")
    text = "\n".join(parts) + "\n"
    if save is not None:
        with atomic_path(save) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return text
