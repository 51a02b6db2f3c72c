"""Conventions every public function follows (after scanpy's tests/test_package_structure.py)."""

import inspect

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
