"""Comparing motifs: similarity of PFMs by the Pearson correlations of aligned columns, on either strand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._errors import SeqatacInputError
from ._motifs import Motif


def motif_similarity(queries: list[Motif], known: list[Motif], *, min_overlap: int = 5) -> pd.DataFrame:
    """Similarity of every query motif to every known motif.

    The similarity is the largest sum, over ungapped alignments on either strand with at least
    ``min_overlap`` columns (capped at the shorter motif's length), of the Pearson correlations of the aligned
    PFM columns, divided by the query's length: 1 when every query column is matched perfectly.

    Returns
    -------
    DataFrame ``(n_queries, n_known)`` indexed by query id, columns = known motif ids.
    """
    if not known:
        raise SeqatacInputError("motif comparison needs at least one known motif.")
    targets = [(_standardize(m.pfm), _standardize(m.pfm[::-1, ::-1])) for m in known]
    scores = np.empty((len(queries), len(known)))
    for i, query in enumerate(queries):
        q = _standardize(query.pfm)
        for j, (forward, reverse) in enumerate(targets):
            scores[i, j] = max(_best_diagonal(q @ forward.T, min_overlap), _best_diagonal(q @ reverse.T, min_overlap))
        scores[i] /= len(q)
    return pd.DataFrame(scores, index=[q.id for q in queries], columns=[m.id for m in known])


def compare_motifs(queries: list[Motif], known: list[Motif], *, top: int = 3, min_overlap: int = 5) -> pd.DataFrame:
    """Best known-motif matches of each query motif (see :func:`motif_similarity`).

    Parameters
    ----------
    queries
        Query motifs.
    known
        Motifs to match against.
    top
        Matches listed in ``top_matches``.
    min_overlap
        Fewest aligned columns.

    Returns
    -------
    DataFrame indexed by query id: ``best_match_id``, ``best_match_name``, ``similarity`` and
    ``top_matches`` (``name (id): similarity`` of the ``top`` best).
    """
    scores = motif_similarity(queries, known, min_overlap=min_overlap).to_numpy()
    rows = []
    for query, row in zip(queries, scores):
        order = np.argsort(-row, kind="stable")
        rows.append(
            {
                "query": query.id,
                "best_match_id": known[order[0]].id,
                "best_match_name": known[order[0]].name,
                "similarity": float(row[order[0]]),
                "top_matches": "; ".join(f"{known[i].name} ({known[i].id}): {row[i]:.2f}" for i in order[:top]),
            }
        )
    return pd.DataFrame(rows).set_index("query")


def _standardize(pfm: np.ndarray) -> np.ndarray:
    """Rows (motif columns) centred and scaled to unit norm: their dot product is their Pearson correlation
    (flat columns become 0, correlating with nothing)."""
    centred = pfm - pfm.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 1e-12)


def _best_diagonal(correlation: np.ndarray, min_overlap: int) -> float:
    """Largest sum along any diagonal of a (query × target) column-correlation matrix with enough overlap."""
    n_query, n_target = correlation.shape
    needed = min(min_overlap, n_query, n_target)
    return max(
        float(np.trace(correlation, offset=offset))
        for offset in range(-(n_query - needed), n_target - needed + 1)
    )
