"""The family modules and their index: every spec loads, each class in exactly one family module."""
from __future__ import annotations

import pkgutil

from symbolic.pipelines import families
from symbolic.pipelines.spec import PipelineSpec


def test_every_family_module_is_indexed_and_loads():
    modules = {info.name for info in pkgutil.iter_modules(families.__path__)}
    assert modules == set(families.FAMILY_OF.values())
    specs = families.every_spec()
    assert set(specs) == set(families.FAMILY_OF)
    assert all(isinstance(spec, PipelineSpec) and spec.class_name == name for name, spec in specs.items())


def test_unknown_class_is_refused_naming_the_file():
    import pytest

    with pytest.raises(ValueError, match=r"^x/model_index.json: pipeline class 'NoSuchPipeline' has no spec"):
        families.spec_for("NoSuchPipeline", "x/model_index.json")
