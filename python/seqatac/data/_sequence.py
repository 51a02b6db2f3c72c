"""DNA sequence encoding: integer codes, one-hot (NumPy, and torch on the device), reverse complement, GC content.

Integer codes are ``A, C, G, T = 0, 1, 2, 3`` and ``N = 4`` (every other character, including the IUPAC
ambiguity codes, also maps to 4). Lowercase (soft-masked) letters encode like uppercase ones. Codes are
``int8`` arrays of shape ``(..., L)``; one-hot arrays have shape ``(..., 4, L)`` with channels A, C, G, T.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._errors import SeqatacInputError

if TYPE_CHECKING:
    import torch

ALPHABET = "ACGT"
N_CODE = 4

_ENCODE_TABLE = np.full(256, N_CODE, dtype=np.int8)
for _code, _base in enumerate(ALPHABET):
    _ENCODE_TABLE[ord(_base)] = _code
    _ENCODE_TABLE[ord(_base.lower())] = _code
_DECODE_TABLE = np.frombuffer(b"ACGTN", dtype=np.uint8)
_COMPLEMENT_CODES = np.array([3, 2, 1, 0, N_CODE], dtype=np.int8)
_COMPLEMENT_STR = str.maketrans("ACGTacgtRYKMBVDHrykmbvdh", "TGCAtgcaYRMKVBHDyrmkvbhd")


#: Code of a padding position whose one-hot column is uniform (0.25 each), used by shift augmentation.
PAD_CODE = N_CODE + 1
# rows: A, C, G, T, N (all-zero column, as seqatac.data.one_hot), padding (uniform)
_ONE_HOT_TABLE = np.vstack([np.eye(4), np.zeros((1, 4)), np.full((1, 4), 0.25)]).astype(np.float32)


def codes_to_onehot(codes: torch.Tensor, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """One-hot encode an integer-code tensor on its device.

    Parameters
    ----------
    codes
        ``(batch, L)`` integer codes 0..5 (A, C, G, T, N, padding).
    dtype
        Output dtype (default ``torch.float32``).

    Returns
    -------
    ``(batch, 4, L)`` tensor (a transposed view of a ``(batch, L, 4)`` block, i.e. channels-last memory).
    """
    import torch

    table = torch.as_tensor(_ONE_HOT_TABLE, dtype=dtype or torch.float32, device=codes.device)
    return table[codes.long()].transpose(1, 2)


def encode_sequence(seq: str | bytes) -> np.ndarray:
    """Encode a DNA string as integer codes.

    Parameters
    ----------
    seq
        DNA sequence; case-insensitive. Anything other than A/C/G/T (N, IUPAC codes, gaps) becomes N.

    Returns
    -------
    codes : ``int8`` array of shape ``(L,)`` with values in ``0..4``.
    """
    if isinstance(seq, str):
        seq = seq.encode("ascii", errors="replace")  # non-ASCII characters become "?" -> N
    elif not isinstance(seq, (bytes, bytearray, memoryview)):
        raise SeqatacInputError(
            f"encode_sequence expects a str or bytes sequence, got {type(seq).__name__}; "
            "pass the sequence as a string such as 'ACGT'."
        )
    return _ENCODE_TABLE[np.frombuffer(seq, dtype=np.uint8)]


def decode_sequence(codes) -> str:
    """Decode integer codes ``(L,)`` back to an uppercase string (code 4 -> ``N``)."""
    codes = np.asarray(codes)
    if codes.ndim != 1:
        raise SeqatacInputError(
            f"decode_sequence expects a 1-D array of codes, got shape {codes.shape}; "
            "decode one sequence at a time (e.g. [decode_sequence(c) for c in codes])."
        )
    check_codes(codes)
    return _DECODE_TABLE[codes.astype(np.intp)].tobytes().decode("ascii")


def one_hot(codes, *, dtype=np.float32) -> np.ndarray:
    """One-hot encode integer codes.

    Parameters
    ----------
    codes
        Integer codes of shape ``(..., L)``.
    dtype
        Output dtype.

    Returns
    -------
    ``(..., 4, L)`` array with channels A, C, G, T. An N position is an all-zero column: a deterministic
    choice (the scBasset authors substitute a random base instead), which also makes N contribute
    exactly 0 to any convolution.
    """
    codes = np.asarray(codes)
    check_codes(codes)
    out = np.zeros(codes.shape[:-1] + (4,) + codes.shape[-1:], dtype=dtype)
    for code in range(4):
        out[..., code, :] = codes == code
    return out


def reverse_complement(x):
    """Reverse complement a sequence in any of its three representations.

    Parameters
    ----------
    x
        A ``str`` (case and IUPAC codes are complemented, other characters kept); an integer-dtype
        array of codes ``(..., L)`` (N stays N); or a floating/bool one-hot array ``(..., 4, L)``.
        The array kind is told apart by dtype: integer means codes, anything else means one-hot.

    Returns
    -------
    The reverse complement, of the same kind and shape as ``x``. The operation is an involution.
    """
    if isinstance(x, str):
        return x.translate(_COMPLEMENT_STR)[::-1]
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        check_codes(x)
        return _COMPLEMENT_CODES[x[..., ::-1].astype(np.intp)].astype(x.dtype, copy=False)
    if x.ndim < 2 or x.shape[-2] != 4:
        raise SeqatacInputError(
            f"reverse_complement got a non-integer array of shape {x.shape}, expected one-hot (..., 4, L); "
            "pass integer codes (..., L) or a one-hot array with 4 channels on the second-to-last axis."
        )
    # channels A,C,G,T reversed are T,G,C,A: the complement
    return np.ascontiguousarray(x[..., ::-1, ::-1])


def gc_content(codes) -> np.ndarray:
    """Fraction of G + C among the non-N bases along the last axis.

    Parameters
    ----------
    codes
        Integer codes ``(..., L)``.

    Returns
    -------
    ``float64`` array of shape ``(...)``; 0 for a sequence made only of N (never NaN).
    """
    codes = np.asarray(codes)
    check_codes(codes)
    gc = ((codes == 1) | (codes == 2)).sum(axis=-1)
    called = (codes != N_CODE).sum(axis=-1)
    return np.divide(gc, called, out=np.zeros(gc.shape, dtype=np.float64), where=called > 0)


def check_codes(codes: np.ndarray) -> None:
    """Raise :class:`SeqatacInputError` unless ``codes`` are integer sequence codes in 0..4 (A, C, G, T, N)."""
    if not np.issubdtype(codes.dtype, np.integer):
        raise SeqatacInputError(
            f"expected integer sequence codes, got dtype {codes.dtype}; "
            "encode strings with seqatac.data.encode_sequence first."
        )
    if codes.size and (codes.min() < 0 or codes.max() > N_CODE):
        raise SeqatacInputError(
            f"sequence codes must lie in 0..{N_CODE} (A, C, G, T, N), got values in "
            f"{codes.min()}..{codes.max()}; encode strings with seqatac.data.encode_sequence."
        )
