"""What every subcommand shares: argument types that check an output before any work, the repeated option
groups, and small readers. Heavy libraries are imported inside the functions, so ``--help`` stays fast."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
from pathlib import Path

from .._errors import SeqatacInputError


def _nearest_existing(path: Path) -> Path:
    for ancestor in (path, *path.parents):
        if ancestor.exists():
            return ancestor
    return Path(".")


def _check_creatable(path: Path, what: str) -> None:
    ancestor = _nearest_existing(path.parent if path.parent != path else path)
    if not ancestor.is_dir():
        raise argparse.ArgumentTypeError(
            f"cannot create the {what} {str(path)!r}: {str(ancestor)!r} is a file, not a directory. "
            "Fix: choose a path under a directory."
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(
            f"cannot create the {what} {str(path)!r}: the directory {str(ancestor)!r} is not writable. "
            "Fix: choose a path in a directory you can write to."
        )


def output_file(value: str) -> Path:
    """``--out`` of a subcommand that writes one file: refuse a directory or an unwritable place up front."""
    path = Path(value)
    if path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{value!r} is a directory, but this command writes a file. Fix: pass a file path such as "
            f"{str(path / 'result')!r} with the extension the command writes."
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{value!r} exists and is not writable. Fix: pass another path.")
    _check_creatable(path, "file")
    return path


def output_directory(value: str) -> Path:
    """``--out`` of a subcommand that writes a directory: refuse a file or an unwritable place up front."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{value!r} is a file, but this command writes a directory of results. Fix: pass a directory path "
            "(it is created when missing)."
        )
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"the directory {value!r} is not writable. Fix: pass another directory.")
    _check_creatable(path, "directory")
    return path


@contextlib.contextmanager
def exclusive_output(path: Path):
    """Lock an output directory for the run, so that a second seqatac process writing it fails at once.

    The directories this run created (``--out`` and missing parents) are removed again if the run fails
    before writing anything into them. A directory is not emptied first: what an earlier run left there and this
    one did not rewrite is named in a warning, so that it is not mistaken for this run's output.
    """
    import fcntl

    created = [d for d in (path, *path.parents) if not d.exists()]  # deepest first
    path.mkdir(parents=True, exist_ok=True)
    before = {entry.name: entry.stat(follow_symlinks=False).st_mtime_ns for entry in os.scandir(path)}
    handle = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SeqatacInputError(
                f"another seqatac process is writing {str(path)!r} now. Fix: wait for it to finish, or pass "
                "another --out."
            ) from None
        try:
            yield
        except BaseException:
            for directory in created:  # the directories this run made, while they stay empty
                if any(directory.iterdir()):
                    break
                directory.rmdir()
            raise
        left = sorted(entry.name for entry in os.scandir(path)
                      if before.get(entry.name) == entry.stat(follow_symlinks=False).st_mtime_ns)
        if left:
            logging.getLogger("seqatac").warning(
                "%s also holds %s from an earlier run, not written by this one (remove them, or use a new --out, "
                "to keep only this run's output)", path, ", ".join(left[:5]) + (", ..." if len(left) > 5 else ""))
    finally:
        os.close(handle)


def _whole_number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None


def positive_int(value: str) -> int:
    """An integer ≥ 1 (thread, epoch and batch counts)."""
    number = _whole_number(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value!r}")
    return number


def seed(value: str) -> int:
    """argparse type: a random seed, a whole number in [0, 2**32) (what numpy's and torch's generators take)."""
    number = _whole_number(value)
    if not 0 <= number < 2**32:
        raise argparse.ArgumentTypeError(f"a seed must lie in [0, 2**32), got {value!r}")
    return number


#: Options that name a file or directory a command writes (the rest that name existing files are inputs).
OUTPUT_OPTIONS = ("out", "csv", "sequence_cache")


def check_outputs_spare_inputs(args: argparse.Namespace) -> None:
    """Refuse a run whose output path is one of its input files (it would be overwritten and lost)."""
    inputs = {}
    for name, value in vars(args).items():
        if name in OUTPUT_OPTIONS:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, (str, Path)) and os.path.isfile(item):
                inputs.setdefault(os.path.realpath(item), name)
    for name in OUTPUT_OPTIONS:
        value = getattr(args, name, None)
        given = None if value is None else inputs.get(os.path.realpath(value))
        if given is not None:
            raise SeqatacInputError(
                f"--{name.replace('_', '-')} {str(value)!r} is also the input --{given.replace('_', '-')}: writing "
                "it would destroy that input. Fix: write to another path."
            )


def check_new_obs_column(adata, key: str, *, data: str = "the input") -> None:
    """Refuse to write ``obs[key]`` (``--key-added``) over a column of the user's own: one that a seqatac label
    transfer wrote before (recorded in ``uns[key]``) may be replaced, any other would be lost in the output."""
    for column in (key, f"{key}_confidence"):
        if column in adata.obs and key not in adata.uns:
            raise SeqatacInputError(
                f"{data} already has an obs column {column!r}, which the labels would overwrite in the output. "
                "Fix: pass --key-added with a new column name."
            )


def fraction(value: str) -> float:
    """argparse type: a number in [0, 1]."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value!r}")
    return number


def add_threads(sub: argparse.ArgumentParser, what: str = "CPU threads") -> None:
    """``--threads``: applied before any numerical library loads (see :func:`apply_threads`)."""
    sub.add_argument("--threads", type=positive_int, default=None, help=f"{what} (default: all cores)")


def apply_threads(n: int | None) -> None:
    """Cap the BLAS/OpenMP thread pools to ``n`` (set before numpy, scipy or torch are imported)."""
    if n is None:
        return
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[variable] = str(n)
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def add_motifs(sub: argparse.ArgumentParser, *, help: str = "MEME/JASPAR/HOMER motif file") -> None:
    """``--motifs`` or a JASPAR release (read offline through pyjaspar)."""
    sub.add_argument("--motifs", type=Path, default=None, help=help)
    sub.add_argument("--jaspar-release", default="JASPAR2024", help="used when --motifs is not given")
    sub.add_argument("--tax-group", default="vertebrates")


def load_motifs(args):
    """The motifs chosen by :func:`add_motifs`' options."""
    from ..data import jaspar, read_motifs

    if args.motifs:
        return read_motifs(args.motifs)
    return jaspar(release=args.jaspar_release, collection="CORE", tax_group=args.tax_group)


def add_overrides(sub: argparse.ArgumentParser, help: str) -> None:
    """Repeatable ``--set KEY=VALUE``."""
    sub.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help)


def parse_overrides(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings → dict, values parsed as JSON when possible (numbers, lists, booleans)."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SeqatacInputError(f"--set expects KEY=VALUE, got {pair!r} (e.g. --set n_cells=500).")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def read_json(path: Path) -> dict:
    """A JSON object of parameters from ``path`` (a clear error for a missing or malformed file)."""
    try:
        params = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise SeqatacInputError(f"cannot read the JSON config {str(path)!r} ({err}). Fix: pass a JSON file such as "
                                '{"n_latent": 32, "epochs": 20}.') from None
    if not isinstance(params, dict):
        raise SeqatacInputError(f"the config {str(path)!r} holds a JSON {type(params).__name__}, not an object of "
                                'parameters. Fix: write it as {"name": value, ...}.')
    return params


def read_h5ad(path, **kwargs):
    """:func:`seqatac.data.read_h5ad`, imported when a command runs."""
    from ..data import read_h5ad as read

    return read(path, **kwargs)


def is_main_process() -> bool:
    """False on the non-zero ranks of a ``torchrun`` launch (only rank 0 writes outputs)."""
    return os.environ.get("RANK", "0") == "0"
