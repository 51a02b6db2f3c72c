"""seqatac: sequence-informed single-cell ATAC-seq models with AnnData in and out."""

import logging as _logging

from . import baselines, data, metrics, pl, simulate, tl
from ._errors import SeqatacInputError, SeqatacWarning
from ._settings import settings

__version__ = "0.1.0"

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "data",
    "simulate",
    "tl",
    "metrics",
    "baselines",
    "pl",
    "settings",
    "SeqatacInputError",
    "SeqatacWarning",
    "__version__",
]
