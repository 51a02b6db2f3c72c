"""``seqatac demo``: the project's front door — the three models beside the baselines on simulated data.

:func:`run_demo` simulates a dataset with known truth (cell types, batches, planted motifs, paired RNA), runs
CellSpace, EpiFoundation and scBasset beside LSI and chromVAR-style deviations on the same cells, scores them
against the truth and writes one self-contained HTML report (``report.html``) with the metrics table.
"""

from ._run import MODELS, run_demo
from ._settings import PRESETS, DemoSettings, demo_settings

__all__ = ["run_demo", "MODELS", "PRESETS", "DemoSettings", "demo_settings"]
