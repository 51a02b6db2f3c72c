"""Hyper-parameters of CellSpace."""

from __future__ import annotations

from dataclasses import dataclass

from ..._errors import SeqatacInputError
from ..._utils import is_whole
from ._kmers import FeatureLayout, feature_layout


@dataclass(frozen=True)
class CellSpaceConfig:
    """Hyper-parameters of :class:`CellSpace`; the defaults are the authors'.

    Attributes
    ----------
    n_latent
        Embedding dimension ``d`` (30).
    k
        k-mer length (8).
    ngrams
        Longest N-gram, in k-mers (3; 1 = k-mers only).
    sample_length
        Window length ``L`` in bp (150).
    bucket
        N-gram hash buckets (2,000,000; 240 MB of float32 rows at d = 30). Lower it to save memory.
    examples_per_event
        Training examples per event per epoch (20).
    margin
        Hinge margin (0.05).
    lr, final_lr
        Learning rate, decayed linearly to ``final_lr`` over training (0.01 → 1e-9).
    n_candidates
        Negative candidates searched per example (StarSpace ``negSearchLimit`` 50).
    max_negatives
        Most violating candidates used per example (``maxNegSamples`` 10).
    group_size
        Examples sharing one set of negative candidates (StarSpace ``batchSize`` 5).
    init_sd
        Standard deviation of the initial rows (0.001).
    max_norm
        Row norm bound (1).
    p
        Exponent of the bag normalisation ``sum / n^p`` used by :meth:`CellSpace.embed_sequences` (0.5).
    """

    n_latent: int = 30
    k: int = 8
    ngrams: int = 3
    sample_length: int = 150
    bucket: int = 2_000_000
    examples_per_event: int = 20
    margin: float = 0.05
    lr: float = 0.01
    final_lr: float = 1e-9
    n_candidates: int = 50
    max_negatives: int = 10
    group_size: int = 5
    init_sd: float = 0.001
    max_norm: float = 1.0
    p: float = 0.5

    def __post_init__(self):
        for name in ("n_latent", "sample_length", "examples_per_event", "n_candidates", "max_negatives", "group_size"):
            value = getattr(self, name)
            if not is_whole(value) or value < 1:
                raise SeqatacInputError(f"CellSpace: {name}={value!r} must be a positive integer.")
        for name in ("margin", "lr", "init_sd", "max_norm"):
            if not getattr(self, name) > 0:
                raise SeqatacInputError(f"CellSpace: {name}={getattr(self, name)!r} must be > 0.")
        if not 0 <= self.final_lr <= self.lr:
            raise SeqatacInputError(f"CellSpace: final_lr={self.final_lr!r} must lie in [0, lr={self.lr}].")
        if self.sample_length < self.k:
            raise SeqatacInputError(
                f"CellSpace: sample_length={self.sample_length} is shorter than k={self.k}; use sample_length >= k."
            )
        feature_layout(self.k, self.ngrams, self.bucket)

    @property
    def layout(self) -> FeatureLayout:
        """Row layout of the feature table."""
        return feature_layout(self.k, self.ngrams, self.bucket)
