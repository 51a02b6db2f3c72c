import os
import stat

import numpy as np
import pytest
from seqatac._utils import atomic_path


def test_atomic_path_renames_on_success_with_normal_permissions(tmp_path):
    target = tmp_path / "out" / "result.json"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".json" and tmp.parent == target.parent
        tmp.write_text("{}")
    assert target.read_text() == "{}"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert list(target.parent.iterdir()) == [target]


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "result.h5ad"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("writer crashed")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_progress_bar_off_a_terminal_prints_few_whole_lines():
    import io

    from seqatac._progress import progress_bar

    stream = io.StringIO()  # not a terminal
    for _ in progress_bar(range(5000), desc="work", file=stream):
        pass
    for _ in progress_bar(range(100), desc="inner", leave=False, file=stream):
        pass
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert 1 <= len(lines) <= 3, lines
    assert "5000/5000" in lines[-1] and "inner" not in text


def test_json_outputs_are_strict_json_without_bare_nan(tmp_path):
    import json

    from seqatac._utils import write_json

    write_json({"auroc": float("nan"), "loss": [1.0, float("inf")], "n": np.int64(3)}, tmp_path / "m.json")

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    assert json.loads((tmp_path / "m.json").read_text(), parse_constant=refuse) == {"auroc": None,
                                                                                     "loss": [1.0, None], "n": 3}
