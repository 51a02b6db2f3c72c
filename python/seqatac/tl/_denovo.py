"""De novo motifs from a k-mer/cell co-embedding (CellSpace, Tayyebi et al. 2023, "Discovering de novo motifs").

1. Every canonical ``kmer_length``-mer (10-mer) is embedded as the mean of its k-mer rows (a 10-mer and its
   reverse complement are one vertex); 10-mers containing a k-mer rare in the training data are skipped.
2. A bipartite kNN graph links each cell to its ``n_neighbors`` (50) most cosine-similar 10-mers.
3. For each cell group, the 10-mers among the neighbours of at least ``min_fraction`` (20%) of its cells
   are kept (or, with ``top_kmers``, its most frequent neighbour 10-mers).
4. The kept 10-mers are clustered by sequence: distance = 1 − the best fraction of matching bases over
   shifts of up to ``max_shift`` bp and both strands, average linkage, tree cut at ``cut_height`` (0.5).
   (The authors use R's ``kmer::cluster`` on k-mer counts; this alignment distance suits 10-mers.)
5. Each cluster of more than three 10-mers is aligned to its medoid (ungapped, best shift and strand;
   the authors use ClustalW) and its PFM is built from the columns covered by at least half the members.
6. Each PFM is compared with known motifs (JASPAR by default): the similarity of a query to a known motif is
   the largest sum, over an ungapped alignment on either strand, of the Pearson correlations of aligned
   columns, divided by the query length (1 = every query column perfectly matched).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from .._errors import SeqatacInputError
from ..data._motifs import Motif, jaspar, read_motifs
from ..models.cellspace._kmers import _kmer_lookup, kmer_rows

logger = logging.getLogger(__name__)


@dataclass
class DenovoMotifs:
    """Result of :func:`denovo_motifs`.

    Attributes
    ----------
    table
        One row per de novo motif (index ``denovo_1``, ...): ``consensus``, ``n_kmers``, ``groups`` (cell
        groups whose kept k-mers it contains, most first), ``group`` (the first of them), ``kmers``,
        ``best_match_id``, ``best_match_name``, ``similarity`` and ``top_matches`` (the three best
        ``name (id): similarity``).
    motifs
        The de novo PFMs as :class:`~seqatac.data.Motif` (id = the table index).
    embedding
        ``(n_motifs, d)`` DataFrame: mean embedding of each motif's k-mers.
    """

    table: pd.DataFrame
    motifs: list[Motif]
    embedding: pd.DataFrame


def denovo_motifs(
    model,
    groups,
    *,
    kmer_length: int = 10,
    n_neighbors: int = 50,
    min_fraction: float = 0.2,
    top_kmers: int | None = None,
    min_kmer_quantile: float = 0.1,
    cut_height: float = 0.5,
    min_size: int = 4,
    max_shift: int = 3,
    known_motifs=None,
    batch_size: int = 256,
) -> DenovoMotifs:
    """Discover motifs from the k-mers closest to each group of cells in a CellSpace embedding.

    Parameters
    ----------
    model
        A trained :class:`~seqatac.models.cellspace.CellSpace`.
    groups
        Cell group (e.g. cluster) of every cell: an array in ``model.cell_names`` order, or a Series
        indexed by cell names.
    kmer_length
        Length of the embedded sequences (10; at least the model's ``k``, at most 12).
    n_neighbors
        10-mers linked to each cell (50).
    min_fraction
        Keep a 10-mer for a group when it is a neighbour of at least this fraction of its cells (0.2).
    top_kmers
        Instead of ``min_fraction``, keep each group's ``top_kmers`` most frequent neighbour 10-mers (those
        of at least 2 cells). Useful when the cells' neighbour sets are so diverse that no 10-mer reaches
        ``min_fraction``, and it gives every group the same weight.
    min_kmer_quantile
        Skip 10-mers containing a k-mer rarer in the training events than this quantile of the k-mer
        counts (``model.kmer_counts``; 0 keeps all). Rare k-mers get few, large AdaGrad steps, and their
        noisy embeddings otherwise crowd the cells' neighbour lists (an addition to the paper's recipe).
    cut_height
        Distance at which the sequence tree is cut (0.5).
    min_size
        Smallest cluster turned into a motif (4, i.e. "more than three").
    max_shift
        Largest shift in bp when aligning two 10-mers.
    known_motifs
        Motifs to compare with: a list of :class:`~seqatac.data.Motif`, a motif file, or None for JASPAR
        2024 CORE vertebrates.
    batch_size
        Cells per block of the cell × 10-mer similarity search.

    Returns
    -------
    :class:`DenovoMotifs` (empty table when no group has a frequent 10-mer).

    Notes
    -----
    The search compares every cell with all ``(4^m + 4^(m/2)) / 2`` canonical m-mers (524,800 for m = 10):
    O(n_cells · 524,800 · d) flops, in blocks of ``batch_size`` cells.
    """
    k = model.config.k
    if not k <= kmer_length <= 12:
        raise SeqatacInputError(f"kmer_length={kmer_length} must lie between the model's k={k} and 12.")
    labels = _cell_groups(model, groups)
    mer_codes, mer_embedding = _mer_embedding(model, kmer_length, min_kmer_quantile)
    neighbours = _nearest_mers(model.get_latent_representation(), mer_embedding, n_neighbors, batch_size)
    kept: dict[int, list] = {}
    for group in pd.unique(labels):
        cells = np.flatnonzero(labels == group)
        counts = np.bincount(neighbours[cells].ravel(), minlength=len(mer_codes))
        if top_kmers is None:
            frequent = np.flatnonzero(counts >= min_fraction * len(cells))
        else:
            frequent = np.argsort(-counts, kind="stable")[: int(top_kmers)]
            frequent = frequent[counts[frequent] >= 2]
        for mer in frequent:
            kept.setdefault(int(mer), []).append((group, int(counts[mer])))
    empty = DenovoMotifs(pd.DataFrame(), [], pd.DataFrame(columns=range(model.config.n_latent)))
    if len(kept) < min_size:
        logger.info("de novo motifs: %d frequent %d-mers, too few to cluster", len(kept), kmer_length)
        return empty
    mers = np.array(sorted(kept))
    codes = _digits(mer_codes[mers], kmer_length)
    similarity, shift, strand = _pairwise_alignment(codes, max_shift)
    tree = linkage(squareform(1.0 - similarity, checks=False), method="average")
    cluster_of = fcluster(tree, t=cut_height, criterion="distance")
    known = _known(known_motifs)
    rows, motifs, embeddings = [], [], []
    clusters = [c for c in np.unique(cluster_of) if (cluster_of == c).sum() >= min_size]
    clusters.sort(key=lambda c: -(cluster_of == c).sum())
    for number, cluster in enumerate(clusters, start=1):
        members = np.flatnonzero(cluster_of == cluster)
        name = f"denovo_{number}"
        motif = _aligned_motif(name, codes, members, similarity, shift, strand, max_shift)
        contributions: dict = {}
        for mer in mers[members]:
            for group, count in kept[int(mer)]:
                contributions[group] = contributions.get(group, 0) + count
        ranked_groups = sorted(contributions, key=lambda g: -contributions[g])
        matches = compare_motifs([motif], known, top=3).iloc[0] if known else None
        rows.append(
            {
                "consensus": motif.consensus,
                "n_kmers": len(members),
                "groups": ",".join(map(str, ranked_groups)),
                "group": ranked_groups[0],
                "kmers": ",".join(_strings(codes[members])),
                "best_match_id": matches["best_match_id"] if known else None,
                "best_match_name": matches["best_match_name"] if known else None,
                "similarity": matches["similarity"] if known else np.nan,
                "top_matches": matches["top_matches"] if known else None,
            }
        )
        motifs.append(motif)
        embeddings.append(mer_embedding[mers[members]].mean(axis=0))
    if not rows:
        return empty
    index = pd.Index([m.id for m in motifs], name="motif")
    table = pd.DataFrame(rows, index=index)
    logger.info("de novo motifs: %d motifs from %d frequent %d-mers", len(motifs), len(mers), kmer_length)
    return DenovoMotifs(table, motifs, pd.DataFrame(np.array(embeddings), index=index))


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


# ============================================================================================ helpers


def _cell_groups(model, groups) -> np.ndarray:
    n_cells = len(model.cell_names)
    if isinstance(groups, pd.Series) and not isinstance(groups.index, pd.RangeIndex):
        if groups.index.has_duplicates or model.cell_names.has_duplicates:
            raise SeqatacInputError("groups is indexed by duplicated cell names; pass an array in model.cell_names order.")
        aligned = groups.reindex(model.cell_names)
        if aligned.isna().any():
            raise SeqatacInputError(
                f"groups lacks {int(aligned.isna().sum())} of the model's cells; give a group to every cell."
            )
        return aligned.astype(str).to_numpy()
    labels = np.asarray(groups)
    if labels.shape != (n_cells,):
        raise SeqatacInputError(
            f"groups must have one label per model cell ({n_cells}), got shape {labels.shape}; pass e.g. "
            "adata.obs['leiden'] of the training AnnData."
        )
    return labels.astype(str)


def _mer_embedding(model, length: int, min_kmer_quantile: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Canonical codes of the ``length``-mers made of reliable k-mers and their embedding (mean of their
    k-mer rows); a k-mer is reliable when its training count reaches ``min_kmer_quantile`` of all counts."""
    k = model.config.k
    codes = _kmer_lookup(length)[1]
    kmer_table = model.get_kmer_embedding().to_numpy()
    counts = getattr(model, "kmer_counts", None)
    reliable = np.ones(len(kmer_table), dtype=bool)
    if counts is not None and min_kmer_quantile > 0:
        reliable = np.asarray(counts) >= np.quantile(counts, min_kmer_quantile)
    lookup = kmer_rows(k)
    mask = (1 << (2 * k)) - 1
    embedding = np.zeros((len(codes), kmer_table.shape[1]), dtype=np.float32)
    keep = np.ones(len(codes), dtype=bool)
    for offset in range(length - k + 1):
        rows = lookup[(codes >> (2 * (length - k - offset))) & mask]
        embedding += kmer_table[rows]
        keep &= reliable[rows]
    return codes[keep], embedding[keep] / (length - k + 1)


def _nearest_mers(cells: np.ndarray, mers: np.ndarray, n_neighbors: int, batch_size: int) -> np.ndarray:
    """Indices ``(n_cells, n_neighbors)`` of each cell's most cosine-similar mers."""
    unit = lambda x: torch.nn.functional.normalize(torch.from_numpy(np.asarray(x, dtype=np.float32)), dim=1)
    mer_vectors = unit(mers)
    cell_vectors = unit(cells)
    n_neighbors = min(int(n_neighbors), len(mers))
    out = np.empty((len(cells), n_neighbors), dtype=np.int64)
    with torch.inference_mode():
        for begin in range(0, len(cells), batch_size):
            scores = cell_vectors[begin : begin + batch_size] @ mer_vectors.T
            out[begin : begin + batch_size] = torch.topk(scores, n_neighbors, dim=1).indices.numpy()
    return out


def _digits(codes: np.ndarray, length: int) -> np.ndarray:
    """Base codes ``(n, length)`` int8 of integer m-mer codes (first base most significant)."""
    shifts = 2 * np.arange(length - 1, -1, -1, dtype=np.int64)
    return ((np.asarray(codes, dtype=np.int64)[:, None] >> shifts) & 3).astype(np.int8)


def _strings(codes: np.ndarray) -> list[str]:
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    return [letters[row].tobytes().decode("ascii") for row in codes]


def _pairwise_alignment(codes: np.ndarray, max_shift: int):
    """Best ungapped match fraction between every pair of equal-length sequences.

    Returns ``(similarity, shift, strand)``, each ``(n, n)``: ``similarity[a, b]`` = max matches / length
    over shifts ``s`` (``b`` placed ``s`` bp right of ``a``) and strands of ``b`` (1 = reverse complement).
    """
    n, length = codes.shape
    reverse = (3 - codes[:, ::-1]).astype(np.int8)
    best = np.full((n, n), -1.0)
    best_shift = np.zeros((n, n), dtype=np.int64)
    best_strand = np.zeros((n, n), dtype=np.int64)
    for strand, other in enumerate((codes, reverse)):
        for s in range(-max_shift, max_shift + 1):
            lo, hi = max(0, s), min(length, length + s)  # positions of a covered by b shifted by s
            matches = np.zeros((n, n), dtype=np.int32)
            for i in range(lo, hi):
                matches += codes[:, None, i] == other[None, :, i - s]
            better = matches / length > best
            best = np.where(better, matches / length, best)
            best_shift[better] = s
            best_strand[better] = strand
    np.fill_diagonal(best, 1.0)
    np.fill_diagonal(best_shift, 0)
    np.fill_diagonal(best_strand, 0)
    return best, best_shift, best_strand


def _aligned_motif(name, codes, members, similarity, shift, strand, max_shift) -> Motif:
    """PFM of the members aligned on their medoid; columns covered by at least half the members."""
    length = codes.shape[1]
    within = similarity[np.ix_(members, members)]
    medoid = members[int(np.argmax(within.sum(axis=1)))]
    counts = np.zeros((length + 2 * max_shift, 4))
    coverage = np.zeros(length + 2 * max_shift)
    for member in members:
        sequence = codes[member] if strand[medoid, member] == 0 else (3 - codes[member, ::-1])
        start = max_shift + shift[medoid, member]
        counts[np.arange(start, start + length), sequence] += 1
        coverage[start : start + length] += 1
    covered = np.flatnonzero(coverage >= len(members) / 2)
    span = slice(covered[0], covered[-1] + 1)
    return Motif.from_counts(name, name, counts[span], pseudocount=0.25)


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


def _known(known_motifs) -> list[Motif]:
    if known_motifs is None:
        return jaspar()
    if isinstance(known_motifs, str) or hasattr(known_motifs, "__fspath__"):
        return read_motifs(known_motifs)
    return list(known_motifs)
