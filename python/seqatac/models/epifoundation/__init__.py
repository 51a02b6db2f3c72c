"""EpiFoundation (Wu et al. 2025): a Transformer over each cell's open peaks, aligned to paired gene expression."""

from ._data import TokenData, bin_expression, sample_genes, token_batches
from ._model import EpiFoundation
from ._module import (
    PRESETS,
    EpiFoundationConfig,
    EpiFoundationModule,
    encoder_block_parameters,
)
from ._tokenizer import (
    CLS,
    N_SPECIAL,
    PAD,
    SPECIAL_TOKENS,
    CellTokens,
    GeneVocabulary,
    PeakMapping,
    PeakVocabulary,
    chromosome_ids,
    pack_sequences,
    unpad,
)
from ._train import TrainingOptions, learning_rate

__all__ = [
    "EpiFoundation",
    "EpiFoundationModule",
    "EpiFoundationConfig",
    "PRESETS",
    "encoder_block_parameters",
    "PeakVocabulary",
    "GeneVocabulary",
    "PeakMapping",
    "CellTokens",
    "SPECIAL_TOKENS",
    "PAD",
    "CLS",
    "N_SPECIAL",
    "chromosome_ids",
    "pack_sequences",
    "unpad",
    "TokenData",
    "bin_expression",
    "sample_genes",
    "token_batches",
    "TrainingOptions",
    "learning_rate",
]
