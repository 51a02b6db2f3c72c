"""Conventions every public function follows (after scanpy's tests/test_package_structure.py)."""

import ast
import inspect
import sys
from pathlib import Path

import pytest
import seqatac

MODULES = [seqatac.data, seqatac.baselines, seqatac.metrics, seqatac.tl, seqatac.pl, seqatac.simulate]


def _public_functions():
    for module in MODULES:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj


PUBLIC_FUNCTIONS = dict(_public_functions())


def test_every_module_exports_what_it_lists():
    for module in MODULES:
        assert hasattr(module, "__all__"), f"{module.__name__} has no __all__"
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.__all__ lists missing {name}"


@pytest.mark.parametrize("name", sorted(PUBLIC_FUNCTIONS))
def test_public_function_signature(name):
    function = PUBLIC_FUNCTIONS[name]
    assert function.__doc__ and function.__doc__.strip(), f"{name} has no docstring"
    parameters = list(inspect.signature(function).parameters.values())
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if positional and positional[0].name == "adata":
        assert len(positional) <= 3, f"{name}: options must be keyword-only (has {len(positional)} positional)"
    if "copy" in {p.name for p in parameters}:
        copy = next(p for p in parameters if p.name == "copy")
        assert copy.kind == copy.KEYWORD_ONLY and copy.default is False, f"{name}: copy must be keyword-only, False"
        assert positional[0].name == "adata", f"{name}: functions that write into an AnnData take `adata` first"


# ---- layering: imports flow one way, and cross only through public names --------------------------------

PACKAGE_ROOT = Path(seqatac.__file__).parent

# Lower layers never import higher ones; sub-packages on one layer do not import each other.
LAYERS = {
    "core": 0,  # seqatac/_errors.py, _keys.py, _settings.py, _torch.py, _utils.py
    "data": 1,
    "simulate": 2, "baselines": 2, "metrics": 2,
    "interpret": 3,
    "models": 4,
    "tl": 5,
    "pl": 6,
    "demo": 7, "r": 7,  # front ends: the demo, the Python↔R bridge
    "cli": 8,
    "__init__": 9,
}


def _module_parts(path: Path) -> list[str]:
    parts = ["seqatac", *path.relative_to(PACKAGE_ROOT).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path):
    """(target module parts, imported names) of every ``seqatac`` import in a file, lazy ones included."""
    parts = _module_parts(path)
    package = parts if path.name == "__init__.py" else parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                target = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "seqatac":
                target = node.module.split(".")
            else:
                continue
            yield target, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "seqatac":
                    yield alias.name.split("."), []


def _subpackage(parts: list[str]) -> str:
    if len(parts) == 1:
        return "__init__"
    name = parts[1]
    return "core" if name.startswith("_") else name


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _edges():
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        source = _module_parts(path)
        for target, names in _imports(path):
            if len(target) == 1:  # `from seqatac import x`: x is a module of the root (core) or a sub-package
                for name in names:
                    yield path, source, ["seqatac", name], []
            else:
                yield path, source, target, names


def layering_violations() -> list[str]:
    """Every import that climbs a layer, crosses sideways, or reaches a private name of another sub-package."""
    problems = []
    for path, source, target, names in _edges():
        where = f"{path.relative_to(PACKAGE_ROOT)}: imports {'.'.join(target)}"
        source_sub, target_sub = _subpackage(source), _subpackage(target)
        if source_sub != target_sub and target_sub != "core":
            if LAYERS[target_sub] >= LAYERS[source_sub] and source_sub != "__init__":
                problems.append(f"{where} (layer {source_sub} must not depend on {target_sub})")
            if any(_is_private(part) for part in target[2:]):
                problems.append(f"{where} (reach another sub-package only through its public package)")
        for name in names:
            if _is_private(name) and source_sub != target_sub and target_sub != "core":
                problems.append(f"{where} name {name} (private to that sub-package)")
    return problems


def test_imports_flow_one_way_through_public_names():
    problems = layering_violations()
    assert not problems, "layering broken:\n" + "\n".join(problems)


def test_models_never_import_analyses_or_front_ends():
    for path, source, target, _ in _edges():
        if source[1:2] == ["models"]:
            assert target[1:2] not in (["tl"], ["pl"], ["cli"], ["demo"]), f"{path}: imports {'.'.join(target)}"


def test_no_module_holds_several_concerns_by_size():
    too_long = {str(p.relative_to(PACKAGE_ROOT)): n for p in PACKAGE_ROOT.rglob("*.py")
                if (n := len(p.read_text().splitlines())) > 600}
    assert not too_long, f"split these by concern: {too_long}"


def test_layering_check_catches_a_violation(tmp_path, monkeypatch):
    """The checker itself flags an upward import and a private cross-package name (so the tests can fail)."""
    fake = tmp_path / "seqatac"
    (fake / "models").mkdir(parents=True)
    (fake / "tl").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "tl" / "__init__.py").write_text("")
    (fake / "models" / "__init__.py").write_text("")
    (fake / "models" / "_model.py").write_text("from ..tl._predict import predict\nfrom ..data._x import _helper\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE_ROOT", fake)
    found = layering_violations()
    assert any("layer models must not depend on tl" in p for p in found)
    assert any("name _helper" in p for p in found)
    assert any("through its public package" in p for p in found)
