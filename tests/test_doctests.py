"""Every docstring example in forge_lib runs and prints what it says (doctest, module by module)."""

import doctest
import importlib
import pkgutil

import pytest

import forge_lib

MODULES = sorted(info.name for info in pkgutil.walk_packages(forge_lib.__path__, "forge_lib."))


def test_the_walk_finds_the_core_modules():
    assert {"forge_lib.metrics.text", "forge_lib.course.numerics", "forge_lib.metrics.fmt",
            "forge_lib.course.language", "forge_lib.check.nb01_perplexity"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
