"""The pipeline classes modelled, one module per diffusers pipeline family, each holding its ``SPECS``
(``symbolic.pipelines.spec.PipelineSpec``, read off the diffusers ``__call__`` / ``encode_prompt`` /
``prepare_latents``) and the terms only that family has.

``spec_for(class_name)`` imports the one family module that ``FAMILY_OF`` names (a warm estimate loads one family,
not all); ``every_spec()`` loads them all. A family module whose ``SPECS`` do not match ``FAMILY_OF`` exactly is
refused at load, so the index cannot drift from the specs (and ``tests/pipelines/test_families.py`` loads them all).
"""
from __future__ import annotations

import importlib
from functools import lru_cache

from symbolic.pipelines.spec import PipelineSpec

#: ``model_index.json``'s ``_class_name`` -> the family module (in this package) whose ``SPECS`` hold its spec.
FAMILY_OF = {
    "StableDiffusionPipeline": "stable_diffusion",
    "StableDiffusionXLPipeline": "stable_diffusion",
    "StableDiffusion3Pipeline": "stable_diffusion_3",
    "FluxPipeline": "flux",
    "QwenImagePipeline": "qwenimage",
    "CogVideoXPipeline": "cogvideox",
    "WanPipeline": "wan",
    "HunyuanVideoPipeline": "hunyuan_video",
    "LTXPipeline": "ltx",
}


@lru_cache(maxsize=None)
def family_specs(family: str) -> dict[str, PipelineSpec]:
    """The specs of one family module by class name, checked against ``FAMILY_OF``."""
    module = importlib.import_module(f"{__name__}.{family}")
    specs = {spec.class_name: spec for spec in module.SPECS}
    indexed = {name for name, f in FAMILY_OF.items() if f == family}
    if len(specs) != len(module.SPECS) or set(specs) != indexed:
        raise ValueError(f"pipeline family {family}: SPECS define {sorted(specs)} ({len(module.SPECS)} specs), "
                         f"FAMILY_OF indexes {sorted(indexed)}")
    return specs


def spec_for(class_name: str, where: str = "model_index.json") -> PipelineSpec:
    family = FAMILY_OF.get(class_name)
    if family is None:
        raise ValueError(f"{where}: pipeline class {class_name!r} has no spec here; supported: "
                         f"{', '.join(sorted(FAMILY_OF))}")
    return family_specs(family)[class_name]


def every_spec() -> dict[str, PipelineSpec]:
    """Every modelled pipeline class's spec, by class name."""
    return {name: family_specs(family)[name] for name, family in FAMILY_OF.items()}
