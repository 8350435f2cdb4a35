"""The closed-form model of one SD 1.5 configuration: stage peaks, the peak, reserved and nvidia-smi bytes.

peak_allocated = resident + Max over stages (Max over the stage's moments of the terms live at that moment)

Resident terms (weights, the allocator's rounding of them, the cuBLAS workspace) are live in every stage. Each
stage's activation terms say at which of its moments they are live; the stage's transient is the largest moment.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy as sp

# Importing the term modules registers their terms, in this order (the order of the report's tables).
# isort: off
from symbolic.pipelines.sd15 import weights  # noqa: F401
from symbolic.pipelines.sd15 import framework_terms  # noqa: F401
from symbolic.pipelines.sd15 import text_encoder_activations  # noqa: F401
from symbolic.pipelines.sd15 import vae_encoder_activations  # noqa: F401
from symbolic.pipelines.sd15 import unet_activations  # noqa: F401
from symbolic.pipelines.sd15 import vae_decoder_activations  # noqa: F401
from symbolic.pipelines.sd15 import safety_checker_activations  # noqa: F401
# isort: on
from symbolic.algebra import maximum
from symbolic.allocator import min_device_bytes
from symbolic.pipelines.sd15.config import SD15Config
from symbolic.pipelines.sd15.registry import SD15_TERMS
from symbolic.pipelines.sd15.weights import load_replay
from symbolic.terms import Category, Stage, StagedModel, Term

#: The caching allocator keeps freed blocks reserved (no ``empty_cache`` inside a call), so ``max_memory_reserved``
#: exceeds the allocated peak by the cached segments no later block could reuse. The decoder makes most of them:
#: each upsampler quadruples the block sizes, so the segments cached for the smaller blocks before it cannot serve
#: the larger ones after it. Modelled as a fixed cache (small-pool and UNet / text-encoder segments) plus a fraction
#: of the VAE decode's transient. These two constants are fitted (least squares, 16 rows) to peak_reserved minus the
#: modelled allocated peak minus the weights' segment slack on data/measurements/sd15_h100.csv: the one fitted part
#: of the model, because the packing depends on the order of every allocation in the run (largest error 7.1% of
#: peak_reserved). The allocated peak does not depend on them.
RESERVED_CACHE_BYTES = 235 * 2**20
RESERVED_DECODE_FRACTION = sp.Rational(16, 25)


def stages_of(config: SD15Config) -> tuple[Stage, ...]:
    """The stages that run, in pipeline order."""
    stages = [Stage.TEXT_ENCODER]
    if config.task == "img2img":
        stages.append(Stage.VAE_ENCODE)
    stages += [Stage.UNET_STEP, Stage.VAE_DECODE]
    if config.safety_checker:
        stages.append(Stage.SAFETY_CHECKER)
    return tuple(stages)


@dataclass(frozen=True)
class SD15Model(StagedModel):
    config: SD15Config

    @cached_property
    def terms(self) -> list[Term]:
        return SD15_TERMS.bind(self.config)

    @cached_property
    def stages(self) -> tuple[Stage, ...]:
        return stages_of(self.config)

    @cached_property
    def weights(self) -> sp.Expr:
        """Parameters and buffers alone (what ``weights_bytes`` reports)."""
        return sp.Add(*(t.expr for t in self.terms if t.category == Category.WEIGHTS))

    @cached_property
    def weights_segment_slack(self) -> int:
        _, allocated, reserved = load_replay(self.config.safety_checker, self.config.bytes_per_element)
        return reserved - allocated

    @cached_property
    def peak_reserved(self) -> sp.Expr:
        """``max_memory_reserved``: the peak stage plus what the allocator keeps cached beside it."""
        cached = self.weights_segment_slack + RESERVED_CACHE_BYTES
        fragmentation = sp.floor(RESERVED_DECODE_FRACTION * self.transients[Stage.VAE_DECODE])
        return self.resident + cached + fragmentation + maximum(*self.transients.values())

    @cached_property
    def nvidia_smi(self) -> sp.Expr:
        """What nvidia-smi shows: reserved bytes plus the CUDA context and the driver's other memory."""
        fw = self.config.framework
        return self.peak_reserved + fw.cuda_context_bytes + fw.driver_extra_bytes

    @cached_property
    def component_weights(self) -> dict[str, sp.Expr]:
        """Parameters and buffers per component (the pipeline's roles), from the weight terms."""
        roles = {"safety_checker_weights": "safety_checker", "text_encoder_weights": "text_encoder",
                 "unet_weights": "unet", "vae_encoder_weights": "vae", "vae_decoder_weights": "vae"}
        out: dict[str, sp.Expr] = {}
        for t in self.terms:
            if t.name in roles:
                out[roles[t.name]] = out.get(roles[t.name], sp.Integer(0)) + t.expr
        return dict(sorted(out.items()))

    @cached_property
    def stage_activations(self) -> dict[Stage, sp.Expr]:
        """Each stage's peak minus the weights and their allocator rounding (as the generic pipeline model)."""
        weights = sp.Add(*(t.expr for t in self.terms_of(Stage.RESIDENT)
                           if t.category in (Category.WEIGHTS, Category.ALLOCATOR)))
        return {stage: peak - weights for stage, peak in self.stage_peaks.items()}

    @cached_property
    def min_gpu_memory(self) -> sp.Expr:
        """The smallest device memory with which the call completes (``symbolic.allocator.min_device_bytes``)."""
        return min_device_bytes(self.peak_allocated, self.weights_segment_slack, self.config.framework)

    def outputs(self) -> dict[str, sp.Expr]:
        """Every expression the API evaluates, by output name."""
        out = {"peak_allocated_bytes": self.peak_allocated, "peak_reserved_bytes": self.peak_reserved,
               "min_gpu_memory_bytes": self.min_gpu_memory,
               "nvidia_smi_bytes": self.nvidia_smi, "weights_bytes": self.weights, "resident_bytes": self.resident}
        out.update({f"stage:{stage.value}": expr for stage, expr in self.stage_peaks.items()})
        out.update({f"moment:{stage.value}:{m}": expr for stage in self.stages for m, expr in self.moments(stage).items()})
        return out


@lru_cache(maxsize=None)
def sd15_model(config: SD15Config) -> SD15Model:
    return SD15Model(config)
