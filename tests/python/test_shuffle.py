import collections

import numpy as np
import pytest
from seqatac.data import decode_sequence, dinucleotide_shuffle, encode_sequence


def dinucleotide_counts(codes):
    codes = np.atleast_2d(codes).astype(int)
    return np.stack([np.bincount(row[:-1] * 5 + row[1:], minlength=25) for row in codes])


def test_preserves_dinucleotides_and_ends():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (300, 120)).astype(np.int8)
    codes[:100][rng.random((100, 120)) < 0.1] = 4  # N is a fifth letter
    codes[200:] = np.sort(codes[200:], axis=1)  # long single-letter runs
    shuffled = dinucleotide_shuffle(codes, random_state=1)
    assert shuffled.shape == codes.shape and shuffled.dtype == np.int8
    np.testing.assert_array_equal(dinucleotide_counts(shuffled), dinucleotide_counts(codes))
    np.testing.assert_array_equal(shuffled[:, [0, -1]], codes[:, [0, -1]])
    assert (shuffled != codes).any(axis=1)[:200].all()  # long random sequences change


def test_one_sequence_and_determinism():
    codes = encode_sequence("ACGTTGCAACGGTACCATGNNACGT" * 4)
    first = dinucleotide_shuffle(codes, random_state=7)
    assert first.shape == codes.shape
    np.testing.assert_array_equal(first, dinucleotide_shuffle(codes, random_state=7))
    assert not np.array_equal(first, dinucleotide_shuffle(codes, random_state=8))
    np.testing.assert_array_equal(dinucleotide_counts(first), dinucleotide_counts(codes))
    np.testing.assert_array_equal(dinucleotide_shuffle(codes[:2], random_state=0), codes[:2])


def _eulerian_sequences(seq):
    """All sequences with the dinucleotide counts and first letter of ``seq`` (depth-first search)."""
    counts = collections.Counter(zip(seq, seq[1:]))
    found = set()

    def extend(path):
        if len(path) == len(seq):
            found.add("".join(path))
            return
        for (a, b), c in list(counts.items()):
            if a == path[-1] and c > 0:
                counts[a, b] -= 1
                extend(path + [b])
                counts[a, b] += 1

    extend([seq[0]])
    return found


def test_uniform_over_eulerian_shuffles():
    seq = "ACGTAGCATGCA"
    support = _eulerian_sequences(seq)
    assert 10 <= len(support) <= 200
    draws = dinucleotide_shuffle(np.tile(encode_sequence(seq), (200 * len(support), 1)), random_state=3)
    observed = collections.Counter(decode_sequence(row) for row in draws)
    assert set(observed) == support
    frequencies = np.array([observed[s] for s in sorted(support)])
    expected = len(draws) / len(support)
    chi2 = ((frequencies - expected) ** 2 / expected).sum()
    dof = len(support) - 1
    assert chi2 < dof + 5 * np.sqrt(2 * dof)  # ~ 5 sigma above the chi-square mean


def test_speed_and_errors():
    import time

    codes = np.random.default_rng(0).integers(0, 4, (1000, 1344)).astype(np.int8)
    start = time.perf_counter()
    dinucleotide_shuffle(codes, random_state=0)
    assert time.perf_counter() - start < 5
    with pytest.raises(ValueError):
        dinucleotide_shuffle(np.array([0, 1, 9, 2]))
