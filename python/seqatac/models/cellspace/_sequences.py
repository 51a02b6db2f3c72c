"""Embedding DNA sequences with a trained CellSpace (k-mer bags), as a mixin of :class:`CellSpace`."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..._errors import SeqatacInputError, SeqatacWarning
from ...data import N_CODE, encode_sequence
from ._kmers import feature_layout, window_features


class SequenceEmbeddingMixin:
    """The :class:`CellSpace` method that embeds DNA sequences."""

    @torch.inference_mode()
    def embed_sequences(
        self, sequences, *, ngrams: bool = False, batch_size: int = 1024
    ) -> np.ndarray:
        """Embed DNA sequences: the sum of their feature rows divided by ``n^p`` (``n`` = features used).

        Parameters
        ----------
        sequences
            A list of strings (any lengths; N and IUPAC codes break k-mers), or ``int8`` codes ``(n, L)``.
        ngrams
            Add the sequence's hashed N-gram rows to its k-mers (the training features); by default only
            the k-mers are used, as the authors' R package does.
        batch_size
            Sequences embedded at once.

        Returns
        -------
        ``float32`` ``(n, n_latent)``; a sequence with no valid k-mer gets a row of NaN (with a warning).
        A sequence and its reverse complement embed identically.
        """
        codes = _as_code_rows(sequences)
        layout = self.config.layout if ngrams else feature_layout(self.config.k, 1, self.config.bucket)
        pad = self.config.layout.pad
        table, d = self.module.features, self.config.n_latent
        out = np.empty((len(codes), self.config.n_latent), dtype=np.float32)
        for begin in range(0, len(codes), batch_size):
            block = _pad_codes(codes[begin : begin + batch_size], self.config.k)
            features = window_features(block, layout)
            features[features == layout.pad] = pad  # k-mers-only layout has its own padding index
            counts = (features != pad).sum(1)
            summed = torch.nn.functional.embedding_bag(torch.from_numpy(features), table, mode="sum")[:, :d].numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                out[begin : begin + len(block)] = summed / (counts[:, None] ** self.config.p)
            out[begin : begin + len(block)][counts == 0] = np.nan
        empty = int(np.isnan(out[:, 0]).sum())
        if empty:
            warnings.warn(
                f"{empty} sequence(s) have no valid {self.config.k}-mer (shorter than k or interrupted by N); "
                "their embedding is NaN.",
                SeqatacWarning,
                stacklevel=2,
            )
        return out


def _as_code_rows(sequences) -> list[np.ndarray]:
    if isinstance(sequences, str):
        raise SeqatacInputError("sequences must be a list of sequences; wrap a single one as [sequence].")
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2 and np.issubdtype(sequences.dtype, np.integer):
        return [row for row in sequences.astype(np.int8)]
    rows = []
    for sequence in sequences:
        if isinstance(sequence, (str, bytes)):
            rows.append(encode_sequence(sequence))
        else:
            rows.append(np.asarray(sequence, dtype=np.int8))
    return rows


def _pad_codes(rows: list[np.ndarray], k: int) -> np.ndarray:
    width = max([k, *(len(r) for r in rows)])
    block = np.full((len(rows), width), N_CODE, dtype=np.int8)
    for i, row in enumerate(rows):
        block[i, : len(row)] = row
    return block


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)
