"""The pipeline classes modelled, one module per diffusers pipeline family, each holding its ``SPECS``
(``symbolic.pipelines.spec.PipelineSpec``, read off the diffusers ``__call__`` / ``encode_prompt`` /
``prepare_latents``). ``spec_for(class_name)`` looks one up; a class specified twice is refused at import."""
from __future__ import annotations

from symbolic.pipelines.families import (cogvideox, flux, hunyuan_video, ltx, qwenimage, stable_diffusion,
                                         stable_diffusion_3, wan)
from symbolic.pipelines.spec import PipelineSpec

FAMILIES = (stable_diffusion, stable_diffusion_3, flux, qwenimage, cogvideox, wan, hunyuan_video, ltx)


def _by_class_name() -> dict[str, PipelineSpec]:
    specs: dict[str, PipelineSpec] = {}
    for family in FAMILIES:
        for spec in family.SPECS:
            if spec.class_name in specs:
                raise ValueError(f"pipeline class {spec.class_name!r} specified twice")
            specs[spec.class_name] = spec
    return specs


#: Every modelled pipeline class by its ``model_index.json`` ``_class_name``.
SPECS: dict[str, PipelineSpec] = _by_class_name()


def spec_for(class_name: str, where: str = "model_index.json") -> PipelineSpec:
    try:
        return SPECS[class_name]
    except KeyError:
        raise ValueError(f"{where}: pipeline class {class_name!r} has no spec here; supported: "
                         f"{', '.join(sorted(SPECS))}") from None
