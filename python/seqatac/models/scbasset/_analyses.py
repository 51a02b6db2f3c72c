"""scBasset's sequence analyses (peak embeddings, denoised accessibility, TF activity, ISM) over
:mod:`seqatac.interpret`, as a mixin of :class:`ScBasset`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ... import _keys
from ..._errors import SeqatacInputError
from ..._utils import check_random_state
from ...data import Motif, encode_sequence
from ...interpret import ism, predict, select_peaks, shuffled_backgrounds, tf_activity

if TYPE_CHECKING:
    from ._model import ScBasset


class SequenceAnalysisMixin:
    """The :class:`ScBasset` methods that run the network on DNA sequences (peaks, backgrounds, mutants)."""

    def _peak_index(self, peaks) -> np.ndarray:
        return select_peaks(self.regions.index, peaks)

    def get_peak_embedding(self, peaks=None, *, batch_size: int = 128, device=None, precision: str = "fp32",
                           verbose: bool = False) -> np.ndarray:
        """Peak embeddings (the bottleneck), ``(n_selected, bottleneck_size)``.

        ``peaks``: names, indices or a boolean mask over the model's peaks; default all.
        """
        index = self._peak_index(peaks)
        return predict(self.predictor("embedding"), self._codes_of(index), batch_size=batch_size,
                       device=device, precision=precision, verbose=verbose)

    def get_denoised_accessibility(self, peaks, *, batch_size: int = 128, device=None, precision: str = "fp32",
                                   verbose: bool = False) -> np.ndarray:
        """Depth-normalised accessibility ``sigmoid(embedding · W)`` (no intercept), ``(n_cells, n_selected)``.

        ``peaks``: names, indices or a boolean mask over the model's peaks. For all peaks of a large dataset
        stream them to a file with :func:`seqatac.tl.denoise`.
        """
        index = self._peak_index(peaks)
        return predict(self.predictor("denoised"), self._codes_of(index), batch_size=batch_size, device=device,
                       precision=precision, verbose=verbose).T

    def get_tf_activity(
        self,
        motifs: list[Motif] | None = None,
        *,
        n_backgrounds: int = 1000,
        zscore: bool = True,
        random_state=0,
        batch_size: int = 128,
        device=None,
        precision: str = "fp32",
        verbose: bool = True,
    ) -> pd.DataFrame:
        """TF activity per cell by motif insertion (the authors' ``motif_score``).

        Backgrounds are ``n_backgrounds`` dinucleotide-shuffled sequences of randomly chosen peaks of this
        model; for each motif, instances sampled from its PFM are inserted at the centre of every background
        and the change of the denoised accessibility, averaged over backgrounds, is z-scored across cells.

        Parameters
        ----------
        motifs
            :class:`~seqatac.data.Motif` list (``seqatac.data.jaspar(...)`` or ``read_motifs(path)``);
            default JASPAR2024 CORE vertebrates (offline, through pyjaspar).
        n_backgrounds
            Background sequences (the authors: 1,000; cost is ``n_backgrounds · (n_motifs + 1)`` forward passes).
        zscore
            z-score across cells (False: the raw mean change of accessibility).
        random_state
            Seed for the backgrounds and the motif instances.

        Returns
        -------
        DataFrame ``(n_cells, n_motifs)`` indexed by cell names, columns named by
        :func:`seqatac.tl.motif_columns` (TF names).
        """
        if motifs is None:
            from ...data import jaspar

            motifs = jaspar()
        rng = check_random_state(random_state)
        backgrounds = shuffled_backgrounds(_PeakSequences(self), n=n_backgrounds, random_state=rng)
        return tf_activity(self.predictor("denoised"), backgrounds, motifs, zscore=zscore,
                           output_names=self.cell_names, random_state=rng, batch_size=batch_size, device=device,
                           precision=precision, verbose=verbose)

    def get_ism(
        self,
        sequence=None,
        *,
        region=None,
        positions=None,
        batch_size: int = 256,
        device=None,
        precision: str = "fp32",
        verbose: bool = False,
    ) -> np.ndarray:
        """In silico saturation mutagenesis: importance of each position for each cell.

        Outputs are ``embedding · W`` (no sigmoid, no intercept); see :func:`seqatac.tl.ism`. The mutants
        run through the network once and are projected on every cell's weights afterwards (exact: the
        score is linear in the embedding), so the cost does not grow with the number of cells.

        Parameters
        ----------
        sequence
            A DNA string, a list of strings, or integer codes ``(n, seq_len)``; each of length ``seq_len``.
        region
            Instead of ``sequence``: a genomic region (``"chr1:1000-1100"`` or ``(chrom, start, end)``). The
            ``seq_len`` window centred on it is mutated at the region's positions.
        positions
            Positions (within the window) to mutate; default all, or the region's.

        Returns
        -------
        float32 array ``(n_sequences, n_cells, n_positions)`` (one sequence for a region).
        """
        if (sequence is None) == (region is None):
            raise SeqatacInputError("pass exactly one of sequence= or region=.")
        if region is not None:
            codes, span = self._region_window(region)
            positions = span if positions is None else positions
        else:
            codes = _as_codes(sequence, self.seq_len)
        latent = ism(self.predictor("embedding"), codes, positions=positions, batch_size=batch_size,
                     device=device, precision=precision, verbose=verbose)
        weight = self.module.cell_head.weight.detach().float().cpu().numpy()
        return np.einsum("ck,nkp->ncp", weight, latent).astype(np.float32)

    def _region_window(self, region) -> tuple[np.ndarray, np.ndarray]:
        from ...data import parse_regions

        if isinstance(region, str):
            table = parse_regions([region])
        else:
            chrom, start, end = region
            table = pd.DataFrame({_keys.CHROM: [str(chrom)], _keys.START: [int(start)], _keys.END: [int(end)]})
        self._require_genome()
        codes = self.genome.encode_regions(table, width=self.seq_len)
        start, end = int(table[_keys.START].iloc[0]), int(table[_keys.END].iloc[0])
        if end - start > self.seq_len:
            centre = (start + end) // 2 - self.seq_len // 2
            chrom = table[_keys.CHROM].iloc[0]
            raise SeqatacInputError(
                f"region {chrom}:{start}-{end} is {end - start:,} bp but the model reads {self.seq_len:,}-bp "
                f"windows, so in silico mutagenesis covers at most {self.seq_len:,} positions. Fix: give a region "
                f"of at most {self.seq_len:,} bp, e.g. its centre {chrom}:{centre}-{centre + self.seq_len}."
            )
        window_start = (start + end) // 2 - self.seq_len // 2
        span = np.arange(max(start, window_start), min(end, window_start + self.seq_len)) - window_start
        return codes, span


class _PeakSequences:
    """The model's peak codes, encoded on demand: ``len()`` peaks, ``[indices]`` → ``(k, seq_len)`` codes."""

    def __init__(self, model: ScBasset):
        self.model = model

    def __len__(self) -> int:
        return len(self.model.regions)

    def __getitem__(self, index) -> np.ndarray:
        return self.model._codes_of(np.asarray(index))


def _as_codes(sequence, length: int) -> np.ndarray:
    if isinstance(sequence, str):
        sequence = [sequence]
    if isinstance(sequence, (list, tuple)) and all(isinstance(s, str) for s in sequence):
        for number, text in enumerate(sequence):
            _check_dna(text, number)
        codes = [encode_sequence(s) for s in sequence]
        if any(len(c) != length for c in codes):
            raise SeqatacInputError(f"every sequence must be {length} bp long (the model's seq_len).")
        return np.stack(codes)
    codes = np.asarray(sequence)
    if codes.ndim == 1:
        codes = codes[None]
    if codes.ndim != 2 or codes.shape[-1] != length:
        raise SeqatacInputError(f"sequences must be {length} bp long (the model's seq_len), got shape {codes.shape}.")
    if not np.issubdtype(codes.dtype, np.integer) or codes.min() < 0 or codes.max() > 4:
        raise SeqatacInputError("integer sequence codes must lie in 0..4 (A, C, G, T, N; seqatac.data.encode_sequence "
                                "makes them from a string).")
    return codes


#: IUPAC nucleotide codes (any case); the ambiguous ones are read as N.
_DNA_LETTERS = frozenset("ACGTNRYSWKMBDHV")


def _check_dna(text: str, number: int) -> None:
    """Refuse a sequence with a letter that is no nucleotide code, or with no A, C, G or T at all."""
    where = f"sequence {number + 1}" if number else "the sequence"
    bad = next((i for i, letter in enumerate(text.upper()) if letter not in _DNA_LETTERS), None)
    if bad is not None:
        raise SeqatacInputError(f"{where} holds {text[bad]!r} at position {bad + 1}, which is no DNA letter. "
                                "Fix: give A, C, G, T (N or IUPAC codes for unknown bases).")
    if not set(text.upper()) & set("ACGT"):
        raise SeqatacInputError(f"{where} has no A, C, G or T: every mutation of it would score 0. "
                                "Fix: give the DNA sequence to mutate.")
