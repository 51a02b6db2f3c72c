"""The ``seqatac`` command line: thin wrappers over the public Python API.

Every subcommand writes only under its explicit ``--out`` (checked before any work) and never leaves a
partial file. Bad input exits with status 2 and one line that names the problem and the fix.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .._errors import SeqatacInputError
from . import _analyses, _baselines, _fit, _transfer
from ._common import apply_threads, check_outputs_spare_inputs, exclusive_output, is_main_process

logger = logging.getLogger("seqatac")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``seqatac`` command (one subparser per subcommand)."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="seqatac",
        description="Sequence-informed single-cell ATAC-seq models and baselines.",
    )
    parser.add_argument("--version", action="version", version=f"seqatac {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (_baselines, _fit, _analyses, _transfer):
        module.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``seqatac`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    apply_threads(getattr(args, "threads", None))
    try:
        check_outputs_spare_inputs(args)
        if getattr(args, "writes_directory", False) and is_main_process():
            with exclusive_output(args.out):
                args.func(args)
        else:
            args.func(args)
    except SeqatacInputError as error:
        print(f"seqatac {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a full disk, a vanished directory, permissions changed while running
        where = f" ({error.filename})" if getattr(error, "filename", None) else ""
        print(f"seqatac {args.command}: error: cannot read or write a file{where}: {error.strerror or error}. "
              "Fix: check the paths, the free space and the permissions, then run again.", file=sys.stderr)
        return 2
    return 0
