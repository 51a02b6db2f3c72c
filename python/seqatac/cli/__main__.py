"""``python -m seqatac.cli`` (what ``torchrun -m seqatac.cli`` launches)."""

import sys

from . import main

sys.exit(main())
