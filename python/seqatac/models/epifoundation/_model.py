"""The user-facing EpiFoundation model: scATAC cells × peaks (+ paired RNA) in; embeddings, cell types and
expression out.

Wu J. et al. "EpiFoundation: A Foundation Model for Single-Cell ATAC-seq via Peak-to-Gene Alignment"
(2025). Pre-training aligns each cell's open peaks to its expressed genes; fine-tuning adds cell-type
annotation or expression-level prediction. Method names follow scvi-tools.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from anndata import AnnData

from ... import _keys
from ..._errors import SeqatacInputError, SeqatacWarning
from ...data import check_labels, check_paired_rna, layer_matrix, missing_labels, validate_atac
from ._data import TokenData, bin_expression
from ._io import load_model, save_model
from ._module import PRESETS, EpiFoundationConfig, build_module
from ._peak_init import DEFAULT_COMPONENTS, DEFAULT_SCALE, lsi_peak_loadings, start_as_lsi_pooling, token_matrix
from ._predict import PredictionMixin
from ._seeds import _derived_seed, _resolve_seed
from ._tokenizer import CellTokens, GeneVocabulary, PeakMapping, PeakVocabulary
from ._train import Trainer, TrainingOptions

logger = logging.getLogger(__name__)

_ARCHITECTURE = ("d_model", "n_layers", "n_heads", "d_ff", "dropout", "max_len", "max_genes", "query_dim",
                 "decoder", "n_expression_bins", "use_chromosomes")
_MODES = ("annotate", "expression")
_PEAK_INITS = ("auto", "lsi", None)


class EpiFoundation(PredictionMixin):
    """EpiFoundation: a Transformer over each cell's open peaks, pre-trained to predict its expressed genes.

    Parameters
    ----------
    adata
        AnnData (n_cells, n_peaks) of counts (values > 0 are open peaks) with peak coordinates in ``var``
        columns or names. Its peaks become the model's vocabulary. Call :meth:`setup_anndata` first to
        choose a layer, a batch key or a label key.
    rna
        Paired RNA AnnData (n_cells, n_genes) with the same ``obs_names``; its genes become the model's
        genes (pre-training and expression prediction need them). Gene chromosomes are read from a
        ``chrom`` column of ``rna.var`` when present.
    preset
        ``"auto"`` (default: ``"reference"`` when a CUDA GPU is present, else ``"small"``; the choice is
        logged and kept in ``params["preset"]``), ``"reference"`` (the paper's: d 512, 6 layers, 8 heads,
        FFN 1,024, max_len 12,000 — GPU work), ``"small"`` (d 128, 2 layers; CPU) or ``"tiny"`` (tests).
    min_mapped_fraction
        New data whose peaks map onto the vocabulary below this share is an error (see :meth:`map_peaks`).
    random_state
        Seed of the weights, training samples and dropout, and of the peak samples at prediction.
    **architecture
        Override preset fields: ``d_model``, ``n_layers``, ``n_heads``, ``d_ff``, ``dropout``, ``max_len``,
        ``max_genes``, ``query_dim``, ``decoder`` (``"concat_query"``, the authors' configuration, or
        ``"inner_product"``), ``n_expression_bins``, ``use_chromosomes``.

    Examples
    --------
    >>> EpiFoundation.setup_anndata(atac, labels_key="cell_type")
    >>> model = EpiFoundation(atac, rna, preset="small")
    >>> model.pretrain(max_epochs=20)
    >>> model.fit(mode="annotate", max_epochs=10)
    >>> model.write_to_adata(new_atac)   # obsm["X_epifoundation"], obs["epifoundation_cell_type"], ...
    """

    def __init__(
        self,
        adata: AnnData,
        rna: AnnData | None = None,
        *,
        preset: str = "auto",
        min_mapped_fraction: float = 0.5,
        random_state: int | None = 0,
        **architecture,
    ):
        if preset == "auto":
            preset = "reference" if torch.cuda.is_available() else "small"
            logger.info("EpiFoundation preset 'auto': %r (%s)", preset,
                        "a CUDA GPU is present" if preset == "reference" else "no GPU: the CPU-sized model")
        if preset not in PRESETS:
            raise SeqatacInputError(f"unknown preset {preset!r}; choose one of {['auto', *PRESETS]}.")
        unknown = sorted(set(architecture) - set(_ARCHITECTURE))
        if unknown:
            raise SeqatacInputError(f"unknown EpiFoundation argument(s) {unknown}; architecture options are "
                                    f"{list(_ARCHITECTURE)}.")
        if not 0 <= min_mapped_fraction <= 1:
            raise SeqatacInputError(f"min_mapped_fraction must lie in [0, 1], got {min_mapped_fraction!r}.")
        setup = _stored_setup(adata)
        if setup is None:
            self.setup_anndata(adata)
            setup = _stored_setup(adata)
        regions = validate_atac(_counts_view(adata, setup.get("layer")))
        vocabulary = PeakVocabulary(regions)
        genes = None
        if rna is not None:
            check_paired_rna(adata, rna)
            genes = GeneVocabulary.from_var(rna.var)
        batch_names = []
        if setup.get("batch_key"):
            key = setup["batch_key"]
            batches = check_labels(adata.obs[key], f"obs[{key!r}] (the batches)")
            batch_names = [str(b) for b in pd.Categorical(batches.astype(str)).categories]
        config = EpiFoundationConfig(
            n_peaks=len(vocabulary), n_genes=len(genes) if genes is not None else 0, n_batches=len(batch_names),
            **{**PRESETS[preset], **architecture},
        )
        seed = _resolve_seed(random_state)
        params = {"preset": preset, "min_mapped_fraction": float(min_mapped_fraction), "random_state": seed}
        module = build_module(config, seed=_derived_seed(seed, 0))
        self._init(module=module, vocabulary=vocabulary, genes=genes, batch_names=batch_names, setup=setup,
                   params=params, adata=adata, rna=rna)

    def _init(self, *, module, vocabulary, genes, batch_names, setup, params, adata, rna,
              cell_types=None, history=None, trained=None):
        self.module = module
        self.vocabulary: PeakVocabulary = vocabulary
        self.genes: GeneVocabulary | None = genes
        self.batch_names: list[str] = list(batch_names)
        self.cell_types: list[str] = list(cell_types or [])
        self.setup, self.params = dict(setup), dict(params)
        self.history: dict[str, list[dict]] = dict(history or {})
        self.trained: list[str] = list(trained or [])
        self.model_dir: Path | None = None
        self._adata, self._rna = adata, rna

    # ------------------------------------------------------------------------------------- setup

    @classmethod
    def setup_anndata(cls, adata: AnnData, *, layer: str | None = None, batch_key: str | None = None,
                      labels_key: str | None = None) -> None:
        """Declare where the counts, batches and cell-type labels are; stored in ``adata.uns``.

        Parameters
        ----------
        adata
            AnnData (n_cells, n_peaks).
        layer
            Layer holding the counts; default ``adata.X``.
        batch_key
            ``obs`` column of batches: adds a batch embedding fused into the gene decoders only (the cell
            embedding stays batch-free).
        labels_key
            ``obs`` column of cell types, the default for :meth:`fit` with ``mode="annotate"``.

        Returns
        -------
        None. Sets ``adata.uns["seqatac"]["epifoundation"]["setup"]``.
        """
        layer_matrix(adata, layer)
        for name, key in (("batch_key", batch_key), ("labels_key", labels_key)):
            if key is not None and key not in adata.obs:
                raise SeqatacInputError(f"{name} {key!r} is not an obs column ({list(adata.obs.columns)[:10]}); "
                                        "pass an existing column.")
        if batch_key is not None:
            check_labels(adata.obs[batch_key], f"obs[{batch_key!r}] (the batches)")
        setup = {key: value for key, value in (("layer", layer), ("batch_key", batch_key),
                                               ("labels_key", labels_key)) if value is not None}
        adata.uns.setdefault(_keys.SEQATAC_UNS, {}).setdefault(_keys.EPIFOUNDATION_UNS, {})["setup"] = setup

    @property
    def config(self) -> EpiFoundationConfig:
        """The architecture (and vocabulary sizes)."""
        return self.module.config

    @property
    def gene_names(self) -> pd.Index:
        """The genes of :meth:`predict_expression`'s columns."""
        if self.genes is None:
            raise SeqatacInputError("this model has no genes: it was built without paired RNA. Fix: build and train "
                                    "it with the RNA of the same cells (rna= in Python, --rna on the command line).")
        return self.genes.names

    def __repr__(self):
        c = self.config
        return (f"EpiFoundation(d_model={c.d_model}, n_layers={c.n_layers}, n_peaks={c.n_peaks:,}, "
                f"n_genes={c.n_genes:,}, n_cell_types={c.n_cell_types}, trained={self.trained})")

    # ------------------------------------------------------------------------------------- data

    def map_peaks(self, adata: AnnData) -> PeakMapping:
        """Map ``adata``'s peaks onto the model's vocabulary (identical coordinates, else largest overlap).

        Parameters
        ----------
        adata
            AnnData (n_cells, n_peaks) with peak coordinates.

        Returns
        -------
        :class:`PeakMapping` (token of each peak, ``-1`` if unmapped; counts; ``summary()``).

        Raises
        ------
        SeqatacInputError
            Fewer than ``min_mapped_fraction`` of the peaks map.
        """
        regions = validate_atac(_counts_view(adata, _layer_of(adata)))
        mapping = self.vocabulary.map_regions(regions, min_mapped_fraction=self.params["min_mapped_fraction"])
        if mapping.n_unmapped:
            warnings.warn(mapping.summary(), SeqatacWarning, stacklevel=3)
        else:
            logger.info(mapping.summary())
        return mapping

    def _token_data(self, adata: AnnData | None, rna: AnnData | None = None, *, task: str | None = None,
                    labels_key: str | None = None, max_len: int | None = None) -> tuple[TokenData, PeakMapping]:
        """TokenData of ``adata`` (default: the model's data) with what ``task`` needs, and the peak mapping."""
        adata = self._default_adata(adata)
        mapping = self.map_peaks(adata)
        data = TokenData(
            cells=CellTokens.from_matrix(_counts_view(adata, _layer_of(adata)).X, mapping.tokens),
            token_chromosomes=self.vocabulary.token_chromosomes,
            max_len=self.config.max_len if max_len is None else int(max_len),
            batch=self._batch_ids(adata),
        )
        if task in ("pretrain", "expression"):
            rna = rna if rna is not None else (self._rna if adata is self._adata else None)
            if rna is None:
                raise SeqatacInputError(f"{task} needs the paired RNA of these cells: pass it (rna= in Python, "
                                        "--rna on the command line).")
            if self.genes is None:
                raise SeqatacInputError(f"this model has no genes, so it cannot {task}: build it with paired RNA "
                                        "(rna= in Python, --rna on the command line).")
            check_paired_rna(adata, rna)
            data.genes, data.genes_available = self._gene_matrix(rna, levels=task == "expression")
            data.gene_chromosomes = self.genes.token_chromosomes
            data.max_genes = self.config.max_genes
        if task == "annotate":
            labels = adata.obs[labels_key]
            known = ~missing_labels(labels.to_numpy())
            data.labels = np.full(adata.n_obs, -1, dtype=np.int64)
            data.labels[known] = pd.Index(self.cell_types).get_indexer(labels[known].astype(str))
        return data, mapping

    def _default_adata(self, adata: AnnData | None) -> AnnData:
        if adata is not None:
            return adata
        if self._adata is None:
            raise SeqatacInputError("this model was loaded without data; pass adata=... .")
        return self._adata

    def _batch_ids(self, adata: AnnData) -> np.ndarray | None:
        if not self.batch_names:
            return None
        key = self.setup["batch_key"]
        if key not in adata.obs:
            warnings.warn(f"adata has no obs[{key!r}]: the gene decoders use the mean batch embedding.",
                          SeqatacWarning, stacklevel=4)
            return np.full(adata.n_obs, -1, dtype=np.int64)
        ids = pd.Index(self.batch_names).get_indexer(adata.obs[key].astype(str))
        if (ids < 0).any():
            warnings.warn(f"{int((ids < 0).sum())} cells are in batches the model has not seen; the gene decoders "
                          "use the mean batch embedding for them.", SeqatacWarning, stacklevel=4)
        return ids.astype(np.int64)

    def _gene_matrix(self, rna: AnnData, *, levels: bool) -> tuple[sp.csr_matrix, np.ndarray]:
        """RNA counts over the model's genes (missing ones: zero columns, flagged unavailable), as
        expression levels (``levels``) or as raw values."""
        position = self.genes.indexer(rna.var_names)
        found = position >= 0
        if not found.any():
            raise SeqatacInputError(
                f"none of the RNA's {rna.n_vars} genes are model genes (e.g. {list(self.genes.names[:3])}); use "
                "the same gene names (symbols vs Ensembl ids) as the RNA the model was built with."
            )
        if found.sum() < len(self.genes):
            logger.info("%d of the model's %d genes are absent from this RNA and are not sampled",
                        len(self.genes) - found.sum(), len(self.genes))
        counts = sp.csr_matrix(rna.X)[:, np.flatnonzero(found)]
        counts = sp.csr_matrix(
            (counts.data, position[found][counts.indices], counts.indptr), shape=(rna.n_obs, len(self.genes))
        )
        counts.sort_indices()
        if levels:
            counts = bin_expression(counts, n_bins=self.config.n_expression_bins)
        available = np.zeros(len(self.genes), dtype=bool)
        available[position[found]] = True
        return counts, available

    # ------------------------------------------------------------------------------------- training

    def pretrain(self, adata: AnnData | None = None, rna: AnnData | None = None, **training) -> pd.DataFrame:
        """Pre-train by peak-to-gene alignment: predict, from the cell embedding, which genes are expressed.

        Each step samples up to ``max_genes`` genes per cell, half expressed and half not, and minimises
        the cross-entropy of a concat-query decoder (gene query + fused cell embedding → 2 classes).

        Parameters
        ----------
        adata, rna
            Cells to train on (default: the model's data) and their paired RNA.
        **training
            ``max_epochs`` (10), ``lr`` (Adam; the preset's, :data:`PRESET_LR`: 3e-3 for "small" and
            "tiny", 1e-4 for "reference"), ``min_lr`` (1e-6), ``warmup_fraction`` (0.05 of the steps, then
            cosine decay per step), ``max_tokens`` (16,384 tokens per micro-batch),
            ``max_cells`` (32 cells per micro-batch), ``grad_accumulation`` (1), ``grad_clip`` (1.0; None
            disables), ``device`` ("auto"), ``precision`` ("auto": bf16 autocast on GPU), ``n_threads``,
            ``checkpoint_dir``, ``checkpoint_every`` (epochs), ``checkpoint_steps`` (optimizer steps),
            ``resume`` (continue from ``checkpoint_dir``), ``verbose``.

        Returns
        -------
        Training history, one row per epoch (also in ``history["pretrain"]``).
        """
        options = TrainingOptions.for_task("pretrain", training, self.params["preset"])
        data, mapping = self._token_data(adata, rna, task="pretrain")
        return self._train(data, mapping, np.arange(len(data)), "pretrain", options)

    def fit(self, mode: str = "annotate", adata: AnnData | None = None, rna: AnnData | None = None, *,
            labels_key: str | None = None, peak_init: str | None = "auto", **training) -> pd.DataFrame:
        """Fine-tune all weights for cell-type annotation or expression-level prediction.

        Annotation works from scratch, without paired RNA or pre-training: with ``peak_init="auto"`` an
        untrained model's peak embedding starts from the LSI loadings of all cells in ``adata`` (LSI reads
        no labels, so unlabelled query cells given with a missing label shape it too, as they shape an LSI
        embedding that a kNN vote transfers labels in), and the
        annotation defaults below (CPU-sized; no learning rate to hunt) hold out 10 % of the cells to stop
        early and keep the best epoch.

        Parameters
        ----------
        mode
            ``"annotate"``: cross-entropy of the cell-type head on the [CLS] embedding (needs labels).
            ``"expression"``: MSE of per-cell expression levels (0 = not expressed, 1..9 = per-cell
            quantile bins; balanced gene samples) through a concat-query decoder (needs RNA).
        adata, rna
            Cells to train on (default: the model's data) and, for ``"expression"``, their paired RNA.
        labels_key
            ``obs`` column of cell types (default: the one given to :meth:`setup_anndata`). Cells with a
            missing label are not trained on; in annotation they still enter the LSI start.
        peak_init
            ``"auto"`` (default): for annotation, ``"lsi"`` when no task has trained the model yet, else keep
            the weights; ``"lsi"``: :meth:`initialise_peak_embedding` on the cells first (for annotation all
            of them, labelled or not); None: keep.
        **training
            As :meth:`pretrain`, plus ``max_len`` (peaks sampled per cell and step; default the model's),
            ``validation_fraction`` (held-in share of the cells, stratified by type in annotation; default 0),
            ``patience`` (epochs without a lower validation loss before stopping; the best epoch's weights
            are kept; default None), and for annotation ``class_weight`` (``"balanced"``: each type's
            cross-entropy weighted by ``n_cells / (n_types · n_cells_of_type)``, scikit-learn's rule, so rare
            types count as much as common ones; None: every cell counts once) and ``label_smoothing``;
            ``encoder_lr_scale`` (the encoder's learning rate as a share of ``lr``, in [0, 1]; the task's
            head always learns at ``lr``; default 1) and ``head_warmup_epochs`` (epochs in which the head
            alone learns, a linear probe of the starting encoder before everything is fine-tuned; default 0).
            Annotation defaults (for the options not given): ``lr=1e-3``, ``max_epochs=30``, ``max_len=512``,
            ``validation_fraction=0.1``, ``patience=5``, ``class_weight="balanced"``, ``label_smoothing=0.1``,
            ``head_warmup_epochs=5`` (``TASK_DEFAULTS``; measured in benchmarks/realdata_epifoundation.py) when
            the encoder starts from LSI, else 0 (over a pre-trained encoder the head-only epochs stayed at
            chance: held-out accuracy on the simulator's ``medium`` 0.958 with them, 0.971 without).

        Returns
        -------
        Training history, one row per epoch (also in ``history[mode]``).
        """
        if mode not in _MODES:
            raise SeqatacInputError(f"mode must be one of {_MODES} (pre-training is pretrain()), got {mode!r}.")
        if peak_init not in _PEAK_INITS:
            raise SeqatacInputError(f"peak_init must be one of {_PEAK_INITS}, got {peak_init!r}.")
        if mode == "expression":
            data, mapping = self._token_data(adata, rna, task="expression")
            cells = np.arange(len(data))
            options = TrainingOptions.for_task("expression", training, self.params["preset"])
            self._peak_init(peak_init, data, cells, auto=False)
            return self._train(data, mapping, cells, "expression", options)
        target = self._default_adata(adata)
        labels_key = labels_key or self.setup.get("labels_key")
        if labels_key is None or labels_key not in target.obs:
            raise SeqatacInputError(f"mode='annotate' needs cell-type labels: pass labels_key= (an obs column; "
                                    f"got {labels_key!r}) or set it with setup_anndata(labels_key=...).")
        labels = target.obs[labels_key]
        present = labels[~missing_labels(labels.to_numpy())].astype(str)
        categories = ([str(c) for c in labels.cat.categories if str(c) in set(present)]
                      if isinstance(labels.dtype, pd.CategoricalDtype) else sorted(present.unique()))
        if len(categories) < 2:
            raise SeqatacInputError(f"obs[{labels_key!r}] has {len(categories)} cell type(s); annotation needs >= 2.")
        if _keys.UNASSIGNED in categories:
            raise SeqatacInputError(f"obs[{labels_key!r}] uses the label {_keys.UNASSIGNED!r}, which marks "
                                    "low-confidence cells in transfer_labels; rename it (or drop those cells) first.")
        if categories != self.cell_types:
            generator = torch.Generator().manual_seed(_derived_seed(self.params["random_state"], 3))
            self.module.reset_cell_type_head(len(categories), generator)
            self.cell_types = categories
        lsi_start = peak_init == "lsi" or (peak_init == "auto" and not self.trained)
        if not lsi_start:  # the head-only warm-up serves an LSI start; it left a pre-trained encoder at chance
            training = {"head_warmup_epochs": 0, **training}
        options = TrainingOptions.for_task("annotate", training, self.params["preset"])
        data, mapping = self._token_data(target, task="annotate", labels_key=labels_key)
        cells = np.flatnonzero(data.labels >= 0)
        self.params["labels_key"] = str(labels_key)
        self._peak_init(peak_init, data, np.arange(len(data)), auto=not self.trained)
        return self._train(data, mapping, cells, "annotate", options)

    def initialise_peak_embedding(self, adata: AnnData | None = None, *, n_components: int | None = None,
                                  scale: float = DEFAULT_SCALE) -> None:
        """Start the peak embedding from LSI: each peak's row = its loadings on the first ``n_components``
        components of a truncated SVD of the cells' binary TF-IDF (scikit-learn, seeded), rescaled to an
        RMS of ``scale``; other columns and peaks open in no cell start at 0.

        Parameters
        ----------
        adata
            Cells whose peaks define the components (default: the model's data); no labels are used.
        n_components
            Components, at most ``d_model`` (default ``min(32, d_model)``).
        scale
            Root mean square of the written loadings (the LayerNorm after the embedding ignores it; it sets
            how far Adam's first steps move them).

        Returns
        -------
        None. Overwrites ``module.peak_embedding``; records ``params["peak_init"]``.
        """
        data, _ = self._token_data(adata)
        self._initialise_from(data, np.arange(len(data)), n_components=n_components, scale=scale)

    def _initialise_from(self, data: TokenData, cells: np.ndarray, *, n_components: int | None,
                         scale: float) -> None:
        if n_components is None:
            n_components = min(DEFAULT_COMPONENTS, self.config.d_model)
        if not scale > 0:
            raise SeqatacInputError(f"scale must be > 0, got {scale!r}.")
        loadings = lsi_peak_loadings(token_matrix(data.cells, len(self.vocabulary), cells), n_components=n_components,
                                     width=self.config.d_model, seed=_derived_seed(self.params["random_state"], 4),
                                     scale=scale)  # fmt: skip
        start_as_lsi_pooling(self.module, loadings)
        self.params["peak_init"] = {"method": "lsi", "n_components": int(n_components), "scale": float(scale),
                                    "n_cells": int(len(cells))}  # fmt: skip

    def _peak_init(self, peak_init: str | None, data: TokenData, cells: np.ndarray, *, auto: bool) -> None:
        """fit()'s peak initialisation: LSI for "lsi", and for "auto" when ``auto`` (annotation of a model no
        task has trained)."""
        if peak_init == "lsi" or (peak_init == "auto" and auto):
            self._initialise_from(data, cells, n_components=None, scale=DEFAULT_SCALE)

    def _train(self, data: TokenData, mapping: PeakMapping, cells: np.ndarray, task: str,
               options: TrainingOptions) -> pd.DataFrame:
        code = {"pretrain": 1, "expression": 2, "annotate": 3}[task]
        trainer = Trainer(self.module, data, cells, task, options, seed=_derived_seed(self.params["random_state"],
                                                                                      10 + code))
        history = trainer.run()
        self.history[task] = history
        if task not in self.trained:
            self.trained.append(task)
        self.params[f"{task}_training"] = {**{key: value for key, value in vars(options).items() if key != "verbose"},
                                           **trainer.summary()}  # fmt: skip
        self.params[f"{task}_peak_mapping"] = mapping.summary()
        return pd.DataFrame(history)

    # ------------------------------------------------------------------------------------- persistence

    def save(self, dir_path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Save to a directory: ``config.json``, ``model.pt`` (state dict), ``peaks.csv``, ``genes.csv``.

        Parameters
        ----------
        dir_path
            Target directory (created).
        overwrite
            Replace a model saved there.

        Returns
        -------
        None. Every file is written atomically, ``config.json`` last; sets ``model_dir``.
        """
        save_model(self, dir_path, overwrite=overwrite)

    @classmethod
    def load(cls, dir_path: str | os.PathLike, *, adata: AnnData | None = None,
             rna: AnnData | None = None) -> EpiFoundation:
        """Load a model saved by :meth:`save` (weights read with ``weights_only=True``).

        Parameters
        ----------
        dir_path
            The saved model's directory.
        adata, rna
            Default data for the getters and training (optional; new data is mapped onto the vocabulary).

        Returns
        -------
        :class:`EpiFoundation`.
        """
        return load_model(cls, dir_path, adata=adata, rna=rna)


def _stored_setup(adata: AnnData) -> dict | None:
    setup = adata.uns.get(_keys.SEQATAC_UNS, {}).get(_keys.EPIFOUNDATION_UNS, {}).get("setup")
    return dict(setup) if setup is not None else None


def _layer_of(adata: AnnData) -> str | None:
    setup = _stored_setup(adata) or {}
    return setup.get("layer")


def _counts_view(adata: AnnData, layer: str | None) -> AnnData:
    """``adata`` itself, or a light AnnData with ``layer`` as X (same obs names and var)."""
    if layer is None:
        return adata
    return AnnData(X=adata.layers[layer], obs=pd.DataFrame(index=adata.obs_names), var=adata.var)
