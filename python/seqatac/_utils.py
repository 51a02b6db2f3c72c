"""Small internal helpers shared across the package."""

from __future__ import annotations

import contextlib
import errno
import math
import numbers
import os
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    Guarantees that a failed write never leaves a partial output file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # keep the real suffix last: some writers (anndata, matplotlib) infer the format from it
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the output the usual permissions
    try:
        yield Path(tmp)
        try:
            os.replace(tmp, path)
        except OSError as err:  # name the output, not the temporary file nobody asked for
            raise OSError(err.errno, err.strerror, str(path)) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, overwrite: bool = False):
    """Yield a temporary directory beside ``path``; it replaces ``path`` as a whole only if the block succeeds.

    A failure (a full disk, an exception) leaves ``path`` as it was and removes the temporary directory. With
    ``overwrite``, an existing ``path`` is swapped out by renames and deleted after the new one is in place.
    """
    import shutil

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    old = None
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
        os.replace(tmp, path)
    except BaseException:
        if old is not None and not path.exists():
            os.replace(old / path.name, path)  # put the previous directory back
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def why_missing(path: str | os.PathLike) -> str:
    """What is wrong with a path that cannot be opened: "does not exist", or that it is a symbolic link whose
    target is gone or that loops (``exists()`` is False for those too)."""
    path = Path(path)
    if not path.is_symlink():
        return "does not exist"
    try:
        path.resolve(strict=True)
    except RuntimeError:  # a loop (Python < 3.13)
        return "is a symbolic link that loops back on itself"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "is a symbolic link that loops back on itself"
    return f"is a symbolic link to {os.readlink(path)!r}, which does not exist"


def is_finite_number(value) -> bool:
    """True for a finite real number; False for a bool, a string, NaN or infinity."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def is_whole(value) -> bool:
    """True for a whole number (an int, or a finite float without a fraction); False for a bool, a string,
    NaN or infinity, so option checks never fail inside ``int()``."""
    return is_finite_number(value) and int(value) == value


def check_random_state(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """Return a local NumPy Generator (never touches global random state)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


def int_seed(random_state) -> int:
    """A non-negative int seed drawn from ``random_state`` (an int always gives the same seed)."""
    return int(check_random_state(random_state).integers(2**31 - 1))


def write_h5ad(adata, path: str | os.PathLike) -> None:
    """Write ``adata`` to ``path`` atomically (no partial file if writing fails)."""
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp)


def write_json(payload: dict, path: str | os.PathLike) -> None:
    """Write ``payload`` as indented, strict JSON to ``path`` atomically (NaN and infinity become null, which
    every JSON reader accepts; bare ``NaN`` is not JSON)."""
    import json

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(jsonable(payload), indent=2, sort_keys=True, allow_nan=False) + "\n")


def jsonable(value):
    """Plain-JSON form of nested dicts/lists of parameters: NumPy scalars → Python, non-finite floats → None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
