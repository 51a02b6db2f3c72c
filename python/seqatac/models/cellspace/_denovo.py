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
6. Optionally (``sequences`` given: the peaks' DNA), each PFM seeds an EM refinement on real sites (an
   addition to the paper's recipe): the peaks whose CellSpace embedding is closest to the motif's cell group
   are the foreground; a zero-or-one-occurrence-per-sequence (ZOOPS) mixture of the motif, widened by
   ``refine_flank`` columns on each side, against a 2nd-order Markov background fitted on all the sequences,
   is fitted by EM (as MEME refines a seed), and columns with little information are trimmed. PFMs built from
   the 10-mers nearest the cells over-weight the consensus and stop at 10 bp; the refined ones follow the
   variability and the length of the sites, and match the right member of a TF family more often.
7. Motifs whose PFMs match each other closely both ways (``merge_similarity``) are merged into the one from
   the larger cluster (refined seeds of one TF often converge on the same PFM).
8. Each PFM is compared with known motifs (JASPAR by default): the similarity of a query to a known motif is
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

from ..._errors import SeqatacInputError
from ...data import (
    N_CODE,
    Motif,
    check_labels,
    compare_motifs,
    jaspar,
    motif_similarity,
    read_motifs,
    reverse_complement,
)
from ._kmers import _kmer_lookup, kmer_rows
from ._sequences import _as_code_rows, _pad_codes, _unit_rows

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
    sequences=None,
    refine_fraction: float = 0.2,
    refine_iterations: int = 10,
    refine_flank: int = 2,
    merge_similarity: float | None = 0.9,
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
    sequences
        DNA of the model's training peaks (a list of strings, or ``int8`` codes ``(n, L)``, e.g.
        ``genome.encode_regions(adata.var, width=500)``), to refine every PFM on its sites (step 6); None
        keeps the PFMs built from the 10-mers (the paper's recipe).
    refine_fraction
        Fraction of ``sequences`` used as a motif's foreground: those most cosine-similar to the mean
        direction of its group's cells (0.2).
    refine_iterations
        EM iterations (10).
    refine_flank
        Background columns added on each side of the seed PFM, so that the motif can grow past the 10-mers (2).
    merge_similarity
        A motif whose PFM and that of a motif from a larger cluster match each other at least this well (both
        ways, :func:`~seqatac.data.motif_similarity`) is merged into it: its 10-mers and groups join the larger
        one's (0.9; None keeps every cluster's motif). Refined seeds of one TF often converge on the same PFM.
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
    if not 0 < refine_fraction <= 1 or refine_iterations < 1 or refine_flank < 0:
        raise SeqatacInputError(
            f"refine_fraction={refine_fraction} must lie in (0, 1], refine_iterations={refine_iterations} be >= 1 "
            f"and refine_flank={refine_flank} be >= 0."
        )
    labels = _cell_groups(model, groups)
    sites = None if sequences is None else _SiteSearch(model, sequences)
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
    clusters = [c for c in np.unique(cluster_of) if (cluster_of == c).sum() >= min_size]
    clusters.sort(key=lambda c: -(cluster_of == c).sum())
    candidates = []  # (PFM, member 10-mers, refinement columns), largest cluster first
    for cluster in clusters:
        members = np.flatnonzero(cluster_of == cluster)
        motif = _aligned_motif(f"cluster_{cluster}", codes, members, similarity, shift, strand, max_shift)
        refinement = {}
        if sites is not None:
            seed_consensus = motif.consensus
            group = _ranked_groups(mers[members], kept)[0]
            foreground = sites.foreground(labels == group, refine_fraction)
            motif, site_fraction = sites.refine(motif, foreground, iterations=refine_iterations, flank=refine_flank)
            refinement = {"seed_consensus": seed_consensus, "site_fraction": site_fraction}
        candidates.append((motif, members, refinement))
    if merge_similarity is not None and len(candidates) > 1:
        candidates = _merge_redundant(candidates, merge_similarity)
    rows, motifs, embeddings = [], [], []
    for number, (motif, members, refinement) in enumerate(candidates, start=1):
        name = f"denovo_{number}"
        motif = Motif(name, name, motif.pfm)
        ranked_groups = _ranked_groups(mers[members], kept)
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
                **refinement,
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


# ============================================================================================ helpers


def _ranked_groups(mers: np.ndarray, kept: dict) -> list:
    """Cell groups whose kept 10-mers include ``mers``, by their summed neighbour counts (most first)."""
    contributions: dict = {}
    for mer in mers:
        for group, count in kept[int(mer)]:
            contributions[group] = contributions.get(group, 0) + count
    return sorted(contributions, key=lambda g: -contributions[g])


def _merge_redundant(candidates: list, threshold: float) -> list:
    """Fold each candidate ``(motif, members, refinement)`` into the first earlier one whose PFM matches it
    at least ``threshold`` both ways; the earlier one keeps its PFM and gains the members."""
    pfms = [motif for motif, _, _ in candidates]
    score = motif_similarity(pfms, pfms).to_numpy()
    mutual = np.minimum(score, score.T)
    merged: dict[int, list] = {}
    for i, (_, members, _) in enumerate(candidates):
        target = next((j for j in merged if mutual[i, j] >= threshold), None)
        merged.setdefault(i if target is None else target, []).append(members)
    return [(candidates[j][0], np.concatenate(parts), candidates[j][2]) for j, parts in merged.items()]


def _cell_groups(model, groups) -> np.ndarray:
    n_cells = len(model.cell_names)
    check_labels(groups, "groups")
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

class _SiteSearch:
    """The training peaks' DNA, their CellSpace embedding and a 2nd-order Markov background, for refining
    de novo PFMs on their sites (ZOOPS EM, as MEME does from a seed)."""

    _MIN_INFORMATION = 0.3  # bits (against the base composition) a kept end column must carry
    _MIN_POSTERIOR = 1e-4  # sites below this posterior are left out of the expected counts
    _BATCH = 2048  # sequences scanned at once

    def __init__(self, model, sequences):
        rows = _as_code_rows(sequences)
        if not rows:
            raise SeqatacInputError("sequences is empty; pass the DNA of the model's training peaks.")
        self.codes = _pad_codes(rows, model.config.k)
        self.unit = np.nan_to_num(_unit_rows(model.embed_sequences(self.codes)))  # no k-mer: NaN -> 0
        self.cells = _unit_rows(model.get_latent_representation())
        self.base, self.log_transition = _markov_background(self.codes)

    def foreground(self, in_group: np.ndarray, fraction: float) -> np.ndarray:
        """Indices of the ``fraction`` of sequences most cosine-similar to the mean direction of a group's cells."""
        score = self.unit @ self.cells[in_group].mean(axis=0)
        n = max(1, int(np.ceil(fraction * len(score))))
        return np.sort(np.argsort(-score, kind="stable")[:n])

    def refine(self, seed: Motif, rows: np.ndarray, *, iterations: int, flank: int) -> tuple[Motif, float]:
        """Fit a ZOOPS mixture (sites on either strand, at most one per sequence) seeded with ``seed`` to the
        sequences ``rows``; returns the trimmed PFM and the fraction of sequences with a site."""
        padding = np.tile(self.base, (flank, 1))
        pfm = 0.9 * np.vstack([padding, seed.pfm, padding]) + 0.1 * self.base
        width = len(pfm)
        batches = [self._prepare(rows[begin : begin + self._BATCH], width) for begin in range(0, len(rows), self._BATCH)]
        site_fraction = 0.1
        for _ in range(iterations):
            counts = np.zeros((width, 5))
            with_site = 0.0
            for codes, one_hot, background in batches:
                posterior, has_site = _posterior(one_hot, background, pfm, site_fraction)
                counts += _site_counts(codes, posterior, self._MIN_POSTERIOR)
                with_site += has_site.sum()
            pfm = (counts[:, :4] + 0.25 * self.base) / (counts[:, :4].sum(axis=1, keepdims=True) + 0.25)
            site_fraction = float(np.clip(with_site / len(rows), 1e-4, 0.99))
        information = (pfm * np.log2(pfm / self.base)).sum(axis=1)
        kept = np.flatnonzero(information >= self._MIN_INFORMATION)
        if len(kept):
            pfm = pfm[kept[0] : kept[-1] + 1]
        return Motif(seed.id, seed.name, pfm / pfm.sum(axis=1, keepdims=True)), site_fraction

    def _prepare(self, rows: np.ndarray, width: int):
        """Codes, one-hot ``(n, 4, L)`` and background log probability of every ``width``-long window
        ``(n, L - width + 1)`` (−inf where it holds an N) of the sequences ``rows``."""
        codes = self.codes[rows]
        one_hot = torch.nn.functional.one_hot(torch.from_numpy(codes.astype(np.int64)), 5)[..., :4]
        one_hot = one_hot.permute(0, 2, 1).float()
        if codes.shape[1] < width:
            return codes, one_hot, np.zeros((len(codes), 0))
        background = _window_sums(_markov_log_probability(codes, self.base, self.log_transition), width)
        background[_window_sums((codes == N_CODE).astype(np.float64), width) > 0] = -np.inf
        return codes, one_hot, background


def _posterior(one_hot: torch.Tensor, background: np.ndarray, pfm: np.ndarray, site_fraction: float):
    """ZOOPS E-step: posterior ``(n, 2, J)`` of a site at each start and strand, and posterior ``(n,)`` that
    the sequence holds a site, given the PFM, the windows' background log probability and the prior."""
    n, n_starts = background.shape
    if n_starts == 0:
        return np.zeros((n, 2, 0)), np.zeros(n)
    log_pfm = torch.from_numpy(np.log(pfm).T.astype(np.float32))  # (4, W)
    kernel = torch.stack([log_pfm, log_pfm.flip(0, 1)])  # forward, reverse complement
    with torch.inference_mode():
        score = torch.nn.functional.conv1d(one_hot, kernel).double().numpy() - background[:, None]
    flat = score.reshape(n, -1)
    peak = flat.max(axis=1, keepdims=True)
    valid = np.isfinite(peak[:, 0])
    peak[~valid] = 0.0
    weights = np.exp(flat - peak)
    total = np.maximum(weights.sum(axis=1), 1e-300)
    # log of the mean likelihood ratio of "a site somewhere" against background
    log_ratio = np.log(total) + peak[:, 0] - np.log(flat.shape[1])
    odds = np.log(site_fraction) - np.log1p(-site_fraction) + log_ratio
    has_site = np.where(valid, 1.0 / (1.0 + np.exp(-np.clip(odds, -700, 700))), 0.0)
    posterior = weights / total[:, None] * has_site[:, None]
    return posterior.reshape(score.shape), has_site


def _markov_background(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Base composition ``(4,)`` and log transition table ``(16, 4)`` (previous two bases -> next) of the
    sequences, both strands counted (so that neither strand is favoured); one pseudocount per triplet,
    triplets with an N left out."""
    base = np.bincount(codes[codes != N_CODE].ravel().astype(np.int64), minlength=4)[:4] + 1.0
    base = base + base[::-1]
    triplets = np.zeros(64)
    for begin in range(0, len(codes), 4096):
        block = codes[begin : begin + 4096].astype(np.int64)
        for strand in (block, reverse_complement(block)):
            first, second, third = strand[:, :-2], strand[:, 1:-1], strand[:, 2:]
            ok = (first != N_CODE) & (second != N_CODE) & (third != N_CODE)
            triplets += np.bincount((first * 16 + second * 4 + third)[ok], minlength=64)
    transitions = triplets.reshape(16, 4) + 1.0
    return base / base.sum(), np.log(transitions / transitions.sum(axis=1, keepdims=True))


def _markov_log_probability(codes: np.ndarray, base: np.ndarray, log_transition: np.ndarray) -> np.ndarray:
    """Per-position background log probability ``(n, L)``: order 2 given the two previous bases where both
    are known, the base composition otherwise, 0 at N."""
    codes = codes.astype(np.int64)
    known = codes != N_CODE
    out = np.where(known, np.log(base)[np.minimum(codes, 3)], 0.0)
    context = known[:, :-2] & known[:, 1:-1] & known[:, 2:]
    index = np.minimum(codes[:, :-2], 3) * 4 + np.minimum(codes[:, 1:-1], 3)
    out[:, 2:] = np.where(context, log_transition[index, np.minimum(codes[:, 2:], 3)], out[:, 2:])
    return out


def _window_sums(values: np.ndarray, width: int) -> np.ndarray:
    """Sums ``(n, L - width + 1)`` of every ``width``-long window of each row."""
    cumulative = np.concatenate([np.zeros((len(values), 1)), np.cumsum(values, axis=1)], axis=1)
    return cumulative[:, width:] - cumulative[:, :-width]


def _site_counts(codes: np.ndarray, posterior: np.ndarray, min_posterior: float) -> np.ndarray:
    """Expected base counts ``(W, 5)`` of the sites (reverse-strand sites read on the reverse complement),
    weighted by their posterior; sites below ``min_posterior`` are left out."""
    width = codes.shape[1] - posterior.shape[2] + 1
    sequence, strand, start = np.nonzero(posterior > min_posterior)
    windows = codes[sequence[:, None], start[:, None] + np.arange(width)].astype(np.int64)
    reverse = strand == 1
    windows[reverse] = reverse_complement(windows[reverse])
    cells = (np.arange(width) * 5 + windows).ravel()
    weights = np.repeat(posterior[sequence, strand, start], width)
    return np.bincount(cells, weights, minlength=width * 5).reshape(width, 5)


def _known(known_motifs) -> list[Motif]:
    if known_motifs is None:
        return jaspar()
    if isinstance(known_motifs, str) or hasattr(known_motifs, "__fspath__"):
        return read_motifs(known_motifs)
    return list(known_motifs)
