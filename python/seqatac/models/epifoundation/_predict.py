"""EpiFoundation's inference (cell embeddings, cell types, expression levels) and its AnnData write-back,
as a mixin of :class:`EpiFoundation`."""

from __future__ import annotations

import logging
import warnings
import zlib

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from ... import _keys
from ..._errors import SeqatacInputError, SeqatacWarning
from ..._progress import progress_bar
from ..._torch import autocast, select_device
from ..._utils import jsonable
from ...data import check_paired_rna
from .. import _training as T
from ._data import token_batches
from ._seeds import _derived_seed
from ._tokenizer import PeakMapping
from ._train import resolve_precision, to_tensors

_GENE_DECODER_PAIRS = 2**18  # cells × genes per decoder call at prediction (bounds its memory)

logger = logging.getLogger(__name__)


class PredictionMixin:
    """The :class:`EpiFoundation` methods that run the encoder on cells and write what it predicts."""

    @torch.inference_mode()
    def _infer(self, adata: AnnData | None, *, outputs: tuple[str, ...], genes: np.ndarray | None = None,
               max_len: int | None = None, max_tokens: int = 32_768, max_cells: int = 256, device: str = "auto",
               precision: str = "auto", n_threads: int | None = None,
               verbose: bool = True) -> tuple[dict[str, np.ndarray], PeakMapping]:
        """One encoder pass over the cells of ``adata``, collecting ``embedding``, ``cell_type``
        probabilities and/or ``expression`` (for gene positions ``genes``); also returns the peak mapping."""
        if "cell_type" in outputs and self.module.cell_type_head is None:
            raise SeqatacInputError("no cell-type head yet: fine-tune with fit(mode='annotate') first.")
        if "expression" in outputs and "expression" not in self.trained:
            raise SeqatacInputError("the expression decoder is untrained: fine-tune with fit(mode='expression') first.")
        if max_len is not None and (int(max_len) != max_len or max_len < 2):
            raise SeqatacInputError(f"max_len must be an integer >= 2 or None, got {max_len!r}.")
        data, mapping = self._token_data(adata, max_len=max_len)
        empty = data.lengths() <= 1  # [CLS] alone
        if empty.any():
            warnings.warn(
                f"{int(empty.sum()):,} of {len(empty):,} cells have no open peak among the model's peaks (e.g. "
                f"{self._default_adata(adata).obs_names[int(np.flatnonzero(empty)[0])]!r}): their outputs are the "
                "same for every such cell and say nothing about it. Fix: drop them first "
                "(seqatac.data.filter_cells(adata, min_peaks=1)), or count them in the model's peaks.",
                SeqatacWarning, stacklevel=3)
        max_tokens = max(int(max_tokens), data.max_len)
        target = select_device(device)
        precision = resolve_precision(precision, target)
        names = self._default_adata(adata).obs_names
        seed = _derived_seed(self.params["random_state"], 20)

        def rng(cell: int) -> np.random.Generator:  # the peak sample of a long cell: its name and the seed only
            return np.random.default_rng([seed, zlib.crc32(str(names[cell]).encode())])

        batches = token_batches(data.lengths(), np.arange(len(data)), max_tokens=max_tokens, max_cells=max_cells)
        collected: dict[str, list[np.ndarray]] = {name: [] for name in outputs}
        module = self.module
        was_training = module.training
        module.eval()
        module.to(target)
        try:
            with T.num_threads(n_threads):
                for cells in progress_bar(batches, desc="EpiFoundation predict", unit="batch", disable=not verbose):
                    batch = to_tensors(data.peak_inputs(cells, rng), target)
                    with autocast(target, precision):
                        embedding = module.embed_cells(batch["tokens"], batch["chromosomes"], batch["cu_seqlens"])
                        if "embedding" in outputs:
                            collected["embedding"].append(embedding.float().cpu().numpy())
                        if "cell_type" in outputs:
                            logits = module.cell_type_head(embedding).float()
                            collected["cell_type"].append(torch.softmax(logits, dim=1).cpu().numpy())
                        if "expression" in outputs:
                            collected["expression"].append(
                                self._expression_block(embedding, batch.get("batch"), genes, target))
        finally:
            module.to("cpu")
            module.train(was_training)
        return {name: np.concatenate(parts) for name, parts in collected.items()}, mapping

    def _expression_block(self, embedding, batch, genes: np.ndarray, device) -> np.ndarray:
        module = self.module
        cell = module.decoder_input(embedding, batch)
        chunk = max(1, _GENE_DECODER_PAIRS // len(cell))
        pieces = []
        for start in range(0, len(genes), chunk):
            ids = torch.as_tensor(genes[start:start + chunk] + 1, device=device).expand(len(cell), -1)
            chromosomes = torch.as_tensor(self.genes.token_chromosomes, device=device)[ids]
            gene_embedding = module.gene_tokens(ids, chromosomes)
            pieces.append(module.expression_decoder(cell, gene_embedding).squeeze(-1).float().cpu().numpy())
        return np.concatenate(pieces, axis=1)

    def get_latent_representation(self, adata: AnnData | None = None, **inference) -> np.ndarray:
        """Cell embeddings: the final-LayerNorm [CLS] outputs.

        Parameters
        ----------
        adata
            Cells to embed (default: the model's data); their peaks are mapped onto the vocabulary.
        **inference
            ``max_len`` (tokens per cell, [CLS] included; default the model's; without positional
            embeddings any length works, and a longer one lets cells keep more of their peaks),
            ``max_tokens`` (32,768 per batch, raised to ``max_len`` if needed), ``max_cells`` (256),
            ``device``, ``precision``, ``n_threads``, ``verbose`` (progress bar).

        Returns
        -------
        ``float32`` array (n_cells, d_model).
        """
        return self._infer(adata, outputs=("embedding",), **inference)[0]["embedding"]

    def predict_cell_type_probabilities(self, adata: AnnData | None = None, **inference) -> pd.DataFrame:
        """Cell-type probabilities (softmax of the annotation head).

        Returns
        -------
        DataFrame (n_cells, n_cell_types) indexed by cell, one column per cell type.
        """
        adata = self._default_adata(adata)
        probabilities = self._infer(adata, outputs=("cell_type",), **inference)[0]["cell_type"]
        return pd.DataFrame(probabilities, index=adata.obs_names, columns=pd.Index(self.cell_types))

    def predict_cell_type(self, adata: AnnData | None = None, **inference) -> pd.DataFrame:
        """The most probable cell type of each cell and its probability.

        Returns
        -------
        DataFrame indexed by cell with ``cell_type`` (categorical) and ``confidence`` (its probability).
        """
        return _cell_type_table(self.predict_cell_type_probabilities(adata, **inference), self.cell_types)

    def transfer_labels(self, query: AnnData, *, min_confidence: float = 0.5, key_added: str | None = None,
                        predicted: pd.DataFrame | None = None, **inference) -> None:
        """Label query cells with the annotation head, as :func:`seqatac.tl.transfer_labels` does with a
        neighbour vote: same columns, same ``"unassigned"`` rule.

        Parameters
        ----------
        query
            Cells × peaks to label (their peaks are mapped onto the model's vocabulary). Written in place.
        min_confidence
            Probability in [0, 1] of the most probable type below which a cell is ``"unassigned"``; 0 labels
            every cell. The default 0.5 asks for a type more probable than all others together.
        key_added
            ``obs`` column written; default ``f"{labels_key}_transferred"`` (the labels the head was trained on).
        predicted
            :meth:`predict_cell_type`'s table for exactly these cells when it is already at hand (e.g. the
            ``epifoundation_cell_type`` columns :meth:`write_to_adata` wrote); default: predict it.
        **inference
            As :meth:`get_latent_representation`.

        Returns
        -------
        None. Writes into ``query``: ``obs[key_added]`` (categorical: the model's cell types plus
        ``"unassigned"``), ``obs[f"{key_added}_confidence"]`` (the head's probability of the most probable
        type, in [1/n_types, 1]) and ``uns[key_added]["params"]``.
        """
        if "annotate" not in self.trained or self.module.cell_type_head is None:
            raise SeqatacInputError("the annotation head is untrained: fine-tune with fit(mode='annotate') first.")
        if not 0.0 <= min_confidence <= 1.0:
            raise SeqatacInputError(f"min_confidence must lie in [0, 1], got {min_confidence!r}.")
        if query.is_view:
            raise SeqatacInputError("query is a view of another AnnData; pass query.copy() so labels can be written.")
        labels_key = self.params.get("labels_key") or _keys.CELL_TYPE
        key_added = f"{labels_key}_transferred" if key_added is None else key_added
        if predicted is None:
            table = self.predict_cell_type(query, **inference)
        elif predicted.index.equals(query.obs_names) and {"cell_type", "confidence"} <= set(predicted.columns):
            table = predicted
        else:
            raise SeqatacInputError("predicted= must be predict_cell_type()'s table (cell_type, confidence) of "
                                    "the query's cells in the query's order; leave it out to predict here.")
        predicted = table["cell_type"].astype(str).to_numpy(dtype=object)
        confidence = table["confidence"].to_numpy(dtype=np.float64)
        predicted[confidence < min_confidence] = _keys.UNASSIGNED
        query.obs[key_added] = pd.Categorical(predicted, categories=[*self.cell_types, _keys.UNASSIGNED])
        query.obs[f"{key_added}_confidence"] = confidence
        query.uns[key_added] = {"params": {"method": "epifoundation_head", "labels_key": labels_key,
                                           "min_confidence": float(min_confidence),
                                           "model_dir": str(self.model_dir) if self.model_dir is not None else ""}}
        logger.info("EpiFoundation.transfer_labels: %d query cells labelled in obs[%r], %d unassigned "
                    "(probability < %g)", query.n_obs, key_added, int((predicted == _keys.UNASSIGNED).sum()),
                    min_confidence)

    def predict_expression(self, adata: AnnData | None = None, *, genes=None, **inference) -> np.ndarray:
        """Predicted expression levels (0 = not expressed … ``n_expression_bins - 1`` = the cell's top genes).

        Parameters
        ----------
        adata
            Cells (default: the model's data); no RNA needed.
        genes
            Gene names to predict (default: all of :attr:`gene_names`).
        **inference
            As :meth:`get_latent_representation`.

        Returns
        -------
        ``float32`` array (n_cells, n_genes) in the order of ``genes``.
        """
        positions = self._gene_positions(genes)
        return self._infer(adata, outputs=("expression",), genes=positions, **inference)[0]["expression"]

    def _gene_positions(self, genes) -> np.ndarray:
        if genes is None:
            return np.arange(len(self.gene_names))
        positions = self.genes.indexer(genes)
        if (positions < 0).any():
            missing = np.asarray(genes, dtype=str)[positions < 0][:3].tolist()
            raise SeqatacInputError(f"{int((positions < 0).sum())} genes are not model genes (e.g. {missing}); "
                                    "pick genes from model.gene_names.")
        return positions

    def write_to_adata(self, adata: AnnData | None = None, *, rna: AnnData | None = None, **inference) -> None:
        """Write the embedding, predicted cell types and (into ``rna``) predicted expression levels.

        Parameters
        ----------
        adata
            Cells × peaks (default: the model's data).
        rna
            Cells × genes AnnData of the same cells (``obs_names``) to receive the predicted levels; genes the
            model does not know get NaN.
        **inference
            As :meth:`get_latent_representation`.

        Returns
        -------
        None. Writes ``adata.obsm["X_epifoundation"]`` (n_cells, d_model); after annotation fine-tuning
        ``adata.obs["epifoundation_cell_type"]`` and ``adata.obs["epifoundation_cell_type_confidence"]``;
        with ``rna`` (after expression fine-tuning) ``rna.layers["epifoundation_expression"]``; and
        ``adata.uns["seqatac"]["epifoundation"]`` (``params``, ``peak_mapping``, ``model_dir``).
        """
        adata = self._default_adata(adata)
        outputs = ["embedding"]
        if self.module.cell_type_head is not None and "annotate" in self.trained:
            outputs.append("cell_type")
        positions = None
        if rna is not None:
            check_paired_rna(adata, rna)
            if "expression" not in self.trained:
                raise SeqatacInputError("rna= was given but the expression decoder is untrained: fine-tune with "
                                        "fit(mode='expression') first, or leave rna out.")
            lookup = self.genes.indexer(rna.var_names)
            positions = lookup[lookup >= 0]
            outputs.append("expression")
        result, mapping = self._infer(adata, outputs=tuple(outputs), genes=positions, **inference)
        adata.obsm[_keys.EPIFOUNDATION_OBSM] = result["embedding"]
        if "cell_type" in result:
            table = _cell_type_table(pd.DataFrame(result["cell_type"], index=adata.obs_names,
                                                  columns=pd.Index(self.cell_types)), self.cell_types)
            adata.obs[_keys.EPIFOUNDATION_CELL_TYPE] = table["cell_type"]
            adata.obs[_keys.EPIFOUNDATION_CONFIDENCE] = table["confidence"]
        if "expression" in result:
            layer = np.full(rna.shape, np.nan, dtype=np.float32)
            layer[:, lookup >= 0] = result["expression"]
            rna.layers[_keys.EPIFOUNDATION_EXPRESSION] = layer
        adata.uns.setdefault(_keys.SEQATAC_UNS, {}).setdefault(_keys.EPIFOUNDATION_UNS, {}).update({
            "params": jsonable({**self.params, "config": self.config.to_dict(), "trained": self.trained}),
            "peak_mapping": mapping.summary(),
            "model_dir": str(self.model_dir) if self.model_dir is not None else "",
        })


def _cell_type_table(probabilities: pd.DataFrame, cell_types: list[str]) -> pd.DataFrame:
    best = probabilities.to_numpy().argmax(axis=1)
    return pd.DataFrame({
        "cell_type": pd.Categorical.from_codes(best, categories=cell_types),
        "confidence": probabilities.to_numpy()[np.arange(len(best)), best],
    }, index=probabilities.index)
