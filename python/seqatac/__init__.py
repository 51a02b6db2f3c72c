"""seqatac: sequence-informed single-cell ATAC-seq models with AnnData in and out.

Sub-packages load on first use (``seqatac.tl`` imports what it needs when touched), so that the command line
and ``import seqatac`` start fast.
"""

import importlib as _importlib
import logging as _logging

from ._errors import SeqatacInputError, SeqatacWarning
from ._settings import settings

__version__ = "0.1.0"

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

_SUBPACKAGES = ("data", "simulate", "tl", "metrics", "baselines", "pl", "interpret", "models")

__all__ = [
    "data",
    "simulate",
    "tl",
    "metrics",
    "baselines",
    "pl",
    "interpret",
    "models",
    "settings",
    "SeqatacInputError",
    "SeqatacWarning",
    "__version__",
]


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'seqatac' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))
