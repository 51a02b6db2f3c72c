"""Dinucleotide-preserving sequence shuffles (Altschul & Erickson 1985; uShuffle, Jiang et al. 2008)."""

from __future__ import annotations

import numpy as np

from .._errors import SeqatacInputError
from .._utils import check_random_state
from ._sequence import N_CODE, check_codes

_N_LETTERS = N_CODE + 1  # A, C, G, T and N as a fifth letter


def dinucleotide_shuffle(codes, *, random_state=None) -> np.ndarray:
    """Shuffle sequences while preserving their dinucleotide counts exactly.

    Each sequence is a walk through the multigraph whose vertices are letters and whose edges are its
    dinucleotides. A random Eulerian walk is drawn (Altschul & Erickson 1985, as in uShuffle): a uniformly
    random spanning arborescence of "last exits" rooted at the final letter (Wilson's loop-erased random
    walk, stepping along a random dinucleotide), then a uniformly random order of each letter's remaining
    exits. Every sequence with the same dinucleotide counts and first letter is equally likely. N (code 4)
    is treated as a fifth letter.

    Parameters
    ----------
    codes
        Integer codes ``(L,)`` or ``(n, L)``.
    random_state
        Seed or ``np.random.Generator``; the same seed gives the same shuffles.

    Returns
    -------
    Shuffled codes, same shape and dtype as ``codes``; first and last letters are unchanged.
    """
    codes = np.asarray(codes)
    if codes.ndim not in (1, 2):
        raise SeqatacInputError(
            f"codes must have shape (L,) or (n, L), got {codes.shape}; shuffle one batch at a time."
        )
    check_codes(codes)
    rng = check_random_state(random_state)
    batch = np.atleast_2d(codes).astype(np.intp)
    n, length = batch.shape
    if length < 3 or n == 0:
        return codes.copy()

    sources, targets = batch[:, :-1], batch[:, 1:]
    # dinucleotide counts per sequence, (n, 5, 5)
    pair_index = (np.arange(n)[:, None] * _N_LETTERS + sources) * _N_LETTERS + targets
    pair_counts = np.bincount(pair_index.ravel(), minlength=n * _N_LETTERS**2).reshape(n, _N_LETTERS, _N_LETTERS)

    # sort key: letter's exits grouped by source; within a group random order, the chosen last exit last
    keys = sources * 3.0 + rng.random(sources.shape)
    for i in range(n):
        last_exit = _random_arborescence(pair_counts[i], int(batch[i, -1]), rng)
        for letter, successor in last_exit.items():
            position = np.flatnonzero((sources[i] == letter) & (targets[i] == successor))[0]
            keys[i, position] = letter * 3.0 + 2.0
    successors = np.take_along_axis(targets, np.argsort(keys, axis=1, kind="stable"), axis=1)

    # walk: from the current letter take its next unused exit (exits of letter v start at offset[v])
    offsets = np.zeros((n, _N_LETTERS), dtype=np.intp)
    offsets[:, 1:] = np.cumsum(pair_counts.sum(axis=2), axis=1)[:, :-1]
    rows = np.arange(n)
    out = np.empty_like(batch)
    out[:, 0] = current = batch[:, 0]
    for step in range(1, length):
        pointer = offsets[rows, current]
        current = successors[rows, pointer]
        offsets[rows, out[:, step - 1]] += 1
        out[:, step] = current
    return out.astype(codes.dtype).reshape(codes.shape)


def _random_arborescence(pair_counts: np.ndarray, root: int, rng: np.random.Generator) -> dict[int, int]:
    """Wilson's algorithm: a random last exit for every letter with exits, all leading to ``root``.

    The probability of each arborescence is proportional to the product of its edge multiplicities,
    i.e. uniform over arborescences of individual dinucleotide occurrences.
    """
    exits = pair_counts.sum(axis=1)
    in_tree = np.zeros(_N_LETTERS, dtype=bool)
    in_tree[root] = True
    last_exit: dict[int, int] = {}
    for start in np.flatnonzero(exits):
        step = int(start)
        while not in_tree[step]:
            successor = int(np.searchsorted(np.cumsum(pair_counts[step]), rng.random() * exits[step], side="right"))
            last_exit[step] = successor
            step = successor
        step = int(start)
        while not in_tree[step]:
            in_tree[step] = True
            step = last_exit[step]
    return last_exit
