"""Motif embeddings and TF activity of a CellSpace model, as a mixin of :class:`CellSpace`."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
from anndata import AnnData

from ..._errors import SeqatacInputError, SeqatacWarning
from ...data import Motif, jaspar, motif_columns, read_motifs
from ._sequences import _unit_rows


class MotifActivityMixin:
    """The :class:`CellSpace` methods that embed TF motifs and score the cells' TF activity."""

    def get_motif_embedding(self, motifs=None) -> pd.DataFrame:
        """Embed TF motifs by their consensus sequence (argmax base per PFM column), k-mers only.

        Parameters
        ----------
        motifs
            A list of :class:`~seqatac.data.Motif`, a motif file (MEME/JASPAR/HOMER, see
            :func:`~seqatac.data.read_motifs`), or ``None`` for JASPAR 2024 CORE vertebrates (pyjaspar,
            offline). Motifs shorter than ``k`` are skipped with a warning.

        Returns
        -------
        DataFrame ``(n_motifs, n_latent)`` indexed by motif name (``name_id`` where names repeat), with
        ``attrs["motif_id"]`` and ``attrs["motif_name"]``.
        """
        motifs = _resolve_motifs(motifs)
        short = [m for m in motifs if m.length < self.config.k]
        if short:
            warnings.warn(
                f"skipping {len(short)} motif(s) shorter than k={self.config.k} (e.g. "
                f"{', '.join(f'{m.name} ({m.id}, {m.length} bp)' for m in short[:3])}): their consensus has no k-mer.",
                SeqatacWarning,
                stacklevel=2,
            )
        motifs = [m for m in motifs if m.length >= self.config.k]
        if not motifs:
            raise SeqatacInputError(f"no motif is at least k={self.config.k} bp long; pass longer motifs.")
        vectors = self.embed_sequences([m.consensus for m in motifs])

        frame = pd.DataFrame(vectors, index=pd.Index(motif_columns(motifs), name="motif"))
        frame.attrs["motif_id"] = [m.id for m in motifs]
        frame.attrs["motif_name"] = [m.name for m in motifs]
        return frame

    def get_tf_activity(self, motifs=None, *, adata: AnnData | None = None) -> pd.DataFrame:
        """TF activity: cosine similarity of each cell to each motif, z-scored across all cells per motif.

        Parameters
        ----------
        motifs
            As for :meth:`get_motif_embedding`.
        adata
            Return only that training dataset's cells (z-scores are still over all cells).

        Returns
        -------
        DataFrame ``(n_cells, n_motifs)`` indexed by cell names, columns as :meth:`get_motif_embedding`'s
        index (motif ids and names in ``attrs``).
        """
        motif_embedding = self.get_motif_embedding(motifs)
        cells = _unit_rows(self.get_latent_representation())
        similarity = cells @ _unit_rows(motif_embedding.to_numpy()).T
        sd = similarity.std(axis=0, ddof=1)
        activity = (similarity - similarity.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        rows = self._dataset_rows(adata)
        frame = pd.DataFrame(activity[rows].astype(np.float32), index=self.cell_names[rows], columns=motif_embedding.index)
        frame.attrs.update(motif_embedding.attrs)
        return frame


def _resolve_motifs(motifs) -> list[Motif]:
    if motifs is None:
        return jaspar()
    if isinstance(motifs, (str, os.PathLike)):
        return read_motifs(motifs)
    motifs = list(motifs)
    if not motifs or not all(isinstance(m, Motif) for m in motifs):
        raise SeqatacInputError(
            "motifs must be a list of seqatac.data.Motif, a motif file path, or None for JASPAR; got "
            f"{type(motifs[0]).__name__ if motifs else 'an empty list'}."
        )
    return motifs
