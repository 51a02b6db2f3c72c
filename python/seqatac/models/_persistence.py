"""Saved model directories: written whole or not at all; read safely (a JSON config with a schema version,
tensors-only weights).

Nothing here executes code from a file: configs are JSON, weights are read with
``torch.load(weights_only=True)`` and must be a flat ``{name: tensor}`` dict. Every problem (a missing or
tampered file, another model's directory, a config that does not fit the weights) is a
:class:`~seqatac.SeqatacInputError` naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
from pathlib import Path

import torch

from .._errors import SeqatacInputError
from .._utils import atomic_directory, why_missing

CONFIG_FILE = "config.json"


@contextlib.contextmanager
def model_directory(dir_path: str | os.PathLike, *, overwrite: bool):
    """Yield a temporary directory to save a model into; it becomes ``dir_path`` as a whole when the block ends.

    A failure (a full disk, an exception) leaves ``dir_path`` as it was. An existing saved model is replaced
    only with ``overwrite``; a directory holding anything else is never replaced.
    """
    path = Path(dir_path)
    if path.exists() and not path.is_dir():
        raise SeqatacInputError(f"{str(path)!r} is a file; pass a directory path to save the model in.")
    if (path / CONFIG_FILE).exists() and not overwrite:
        raise SeqatacInputError(f"{str(path)!r} already holds a saved model; pass overwrite=True or another path.")
    if path.is_dir() and not (path / CONFIG_FILE).exists() and any(path.iterdir()):
        raise SeqatacInputError(
            f"{str(path)!r} holds files that are not a saved model; pass a new or empty directory to save into."
        )
    with atomic_directory(path, overwrite=True) as tmp:
        yield tmp


def read_config(dir_path: str | Path, *, model: str, title: str, format_version: int,
                required: tuple[str, ...] = ()) -> dict:
    """The ``config.json`` of a saved ``model`` directory, checked for its model name and ``format_version``.

    Parameters
    ----------
    dir_path
        The saved model's directory.
    model
        The ``"model"`` value the config must carry (e.g. ``"scbasset"``).
    title
        The model's name in messages (e.g. ``"scBasset"``).
    format_version
        The directory format this seqatac reads.
    required
        Entries the config must have.

    Returns
    -------
    The parsed config (a dict).
    """
    dir_path = Path(dir_path)
    path = dir_path / CONFIG_FILE
    if not dir_path.is_dir():
        raise SeqatacInputError(f"the model directory {str(dir_path)!r} {why_missing(dir_path)}. Fix: pass the "
                                f"directory written by {title}.save() (e.g. a fit command's OUT/model).")
    if not path.is_file():
        raise SeqatacInputError(
            f"{str(dir_path)!r} holds no saved {title} model ({CONFIG_FILE} missing). Fix: pass the directory "
            f"written by {title}.save() (e.g. a fit command's OUT/model)."
        )
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise SeqatacInputError(
            f"{str(path)!r} is not valid JSON ({err}). Fix: restore the model directory from its original save, "
            "or save the model again."
        ) from None
    if not isinstance(config, dict):
        raise SeqatacInputError(f"{str(path)!r} holds a JSON {type(config).__name__}, not a model config. "
                                "Fix: restore the model directory from its original save.")
    if config.get("model") != model or config.get("format_version") != format_version:
        raise SeqatacInputError(
            f"{str(dir_path)!r} holds model={config.get('model')!r} with format_version="
            f"{config.get('format_version')!r}; this seqatac reads {title} models of format_version "
            f"{format_version}. Fix: load it with the matching model class and the seqatac version that saved it, "
            "or train and save the model again."
        )
    missing = [key for key in required if key not in config]
    if missing:
        raise SeqatacInputError(
            f"{str(path)!r} has no {missing} entries (incomplete or edited). Fix: restore the model directory "
            "from its original save, or save the model again."
        )
    return config


def build_config(config_class, values, path: str | Path):
    """``config_class.from_dict(values)`` (or ``config_class(**values)``); invalid entries become a clear error."""
    if not isinstance(values, dict):
        raise SeqatacInputError(f"the architecture in {str(Path(path) / CONFIG_FILE)!r} is not a JSON object. "
                                "Fix: restore the model directory from its original save.")
    make = getattr(config_class, "from_dict", None) or (lambda entries: config_class(**entries))
    try:
        return make(values)
    except (TypeError, ValueError) as err:
        raise SeqatacInputError(
            f"the architecture in {str(Path(path) / CONFIG_FILE)!r} is not valid for {config_class.__name__} "
            f"({err}). Fix: restore config.json from the original save, or save the model again."
        ) from None


def check_size(found: int, expected: int, file: str | Path, what: str) -> None:
    """Raise when a saved table lists ``found`` ``what`` but the config says ``expected``."""
    if found != expected:
        raise SeqatacInputError(
            f"{str(file)!r} lists {found} {what} but config.json says {expected}. Fix: the files of a saved model "
            "must come from the same save; restore the directory from its original save, or save the model again."
        )


def required_file(dir_path: str | Path, name: str) -> Path:
    """``dir_path / name``, or a clear error if a saved model lacks that file."""
    path = Path(dir_path) / name
    if not path.is_file():
        raise SeqatacInputError(
            f"the saved model in {str(dir_path)!r} is incomplete: {name} is missing. Fix: copy the whole model "
            "directory (config.json, the weights and the cell/peak tables), or save the model again."
        )
    return path


def read_table(dir_path: str | Path, name: str, *, columns: tuple[str, ...] = (), unique: str | None = None,
               **read_csv):
    """A CSV/TSV table of a saved model (``pandas.read_csv(**read_csv)``) that must hold ``columns``, and whose
    column ``unique`` (``"index"``: its index) names every row once."""
    import pandas as pd

    path = required_file(dir_path, name)
    try:
        table = pd.read_csv(path, **read_csv)
    except (ValueError, UnicodeDecodeError) as err:  # pandas' ParserError and EmptyDataError are ValueErrors
        table, problem = None, f"cannot be parsed ({str(err)[:200]})"
    else:
        missing = [column for column in columns if column not in table.columns]
        problem = f"lacks the column(s) {missing}" if missing else None
        names = None if problem or unique is None else (table.index if unique == "index" else table[unique])
        if names is not None and not pd.Index(names).is_unique:
            repeated = pd.Index(names)[pd.Index(names).duplicated()]
            problem = f"names {len(repeated):,} row(s) twice (e.g. {str(repeated[0])!r})"
    if problem:
        raise SeqatacInputError(
            f"{str(path)!r} {problem}. Fix: restore the model directory from its original save, or save the "
            "model again."
        )
    return table


def read_array(path: str | Path):
    """A ``.npy`` array of a saved model, read with ``allow_pickle=False`` (object arrays are refused)."""
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise SeqatacInputError(
            f"{str(path)!r} is not a plain numeric .npy array ({str(err)[:200]}); it may be corrupt, or tampered "
            "with (object arrays are never unpickled). Fix: restore it from the original save, or save the model "
            "again."
        ) from None


def read_weights(path: str | Path, *, map_location="cpu") -> dict:
    """Tensors saved with ``torch.save``, read without unpickling code (``weights_only=True``).

    Parameters
    ----------
    path
        A weights or checkpoint file.
    map_location
        Where tensors are loaded (``torch.load``'s argument).

    Returns
    -------
    The saved dict (tensors, numbers, strings, lists and dicts only).

    Raises
    ------
    SeqatacInputError
        The file is missing, corrupt or truncated, holds arbitrary Python objects (a tampered or foreign
        pickle is refused, never executed), or is not a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise SeqatacInputError(f"{str(path)!r} {why_missing(path)}. Fix: copy the whole saved model or checkpoint "
                                "directory, or save it again.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"(Unsupported [^.\n]*?)(?: was not an allowed| *$)", str(err), flags=re.MULTILINE)
        detail = found.group(1) if found else "not a weights file"
        raise SeqatacInputError(
            f"{str(path)!r} holds Python objects other than tensors ({detail}), so seqatac refuses to load it: it "
            "never unpickles code. The file may have been tampered with "
            "or not written by seqatac. Fix: use a model saved by seqatac's save(), or restore the original file."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise SeqatacInputError(
            f"{str(path)!r} is not a readable torch file ({type(err).__name__}: {str(err)[:200] or 'empty file'}); "
            "it may be truncated or corrupt. Fix: restore it from the original save, or save the model again."
        ) from None
    if not isinstance(state, dict):
        raise SeqatacInputError(
            f"{str(path)!r} holds a {type(state).__name__}, not a dict of tensors. Fix: restore it from the "
            "original save, or save the model again."
        )
    return state


def load_module_state(module: torch.nn.Module, state: dict, dir_path: str | Path) -> None:
    """``module.load_state_dict(state)``; weights that do not fit the architecture, or that hold NaN or
    infinite values, become a clear error."""
    broken = [name for name, value in state.items()
              if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all()]
    if broken:
        raise SeqatacInputError(
            f"the weights in {str(dir_path)!r} hold NaN or infinite values ({', '.join(broken[:3])}): the training "
            "diverged or the file is damaged. Fix: train again (a lower learning rate, fp32 precision) or restore "
            "the directory from a good save."
        )
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as err:
        detail = " ".join(line.strip() for line in str(err).splitlines()[1:3])[:300]
        raise SeqatacInputError(
            f"the weights in {str(dir_path)!r} do not fit the architecture in its config.json and cell/peak "
            f"tables ({detail or err}). Fix: config.json, the weights and the tables must come from the same "
            "save; restore the directory from its original save, or save the model again."
        ) from None
