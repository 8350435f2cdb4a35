"""Bundled pipelines: short ids -> Hub repositories whose published configs ship in ``symbolic/configs/hub``, and
the dtypes their model cards load them with. Any folder with a ``model_index.json`` and the components'
``config.json`` files (``huggingface-cli download REPO --include "*.json"``) loads the same way."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from symbolic.pipelines.families import spec_for
from symbolic.pipelines.spec import PipelineSpec


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    hub_id: str
    #: The dtype the model card loads with (``torch_dtype``), and components it loads differently.
    dtype: str
    component_dtypes: tuple[tuple[str, str], ...] = ()
    source: str = ""


CATALOG: dict[str, CatalogEntry] = {e.id: e for e in (
    CatalogEntry("sd15", "stable-diffusion-v1-5/stable-diffusion-v1-5", "fp16",
                 source="model card: torch_dtype=torch.float16"),
    CatalogEntry("cogvideox-2b", "THUDM/CogVideoX-2b", "fp16",
                 source="diffusers CogVideoX docs: torch_dtype=torch.float16 for 2B"),
    CatalogEntry("cogvideox-5b", "THUDM/CogVideoX-5b", "bf16",
                 source="diffusers CogVideoX docs: torch_dtype=torch.bfloat16 for 5B"),
    CatalogEntry("wan2.1-t2v-1.3b", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "bf16", (("vae", "fp32"),),
                 source="diffusers Wan docs: AutoencoderKLWan in float32, the pipeline in bfloat16"),
    CatalogEntry("wan2.1-t2v-14b", "Wan-AI/Wan2.1-T2V-14B-Diffusers", "bf16", (("vae", "fp32"),),
                 source="diffusers Wan docs: AutoencoderKLWan in float32, the pipeline in bfloat16"),
    CatalogEntry("hunyuanvideo", "hunyuanvideo-community/HunyuanVideo", "fp16", (("transformer", "bf16"),),
                 source="diffusers HunyuanVideo docs: transformer bfloat16, the pipeline (text encoders, VAE) "
                        "float16"),
    CatalogEntry("sd21", "stabilityai/stable-diffusion-2-1", "fp16",
                 source="model card: StableDiffusionPipeline.from_pretrained(..., torch_dtype=torch.float16)"),
    CatalogEntry("sdxl", "stabilityai/stable-diffusion-xl-base-1.0", "fp16",
                 source="model card: torch_dtype=torch.float16, variant fp16"),
    CatalogEntry("sd3.5-medium", "stabilityai/stable-diffusion-3.5-medium", "bf16",
                 source="model card: StableDiffusion3Pipeline.from_pretrained(..., torch_dtype=torch.bfloat16)"),
    CatalogEntry("sd3.5-large", "stabilityai/stable-diffusion-3.5-large", "bf16",
                 source="model card: StableDiffusion3Pipeline.from_pretrained(..., torch_dtype=torch.bfloat16)"),
    CatalogEntry("ltx-video", "Lightricks/LTX-Video", "bf16",
                 source="pipeline_ltx.py EXAMPLE_DOC_STRING: torch_dtype=torch.bfloat16"),
    CatalogEntry("flux.1-dev", "black-forest-labs/FLUX.1-dev", "bf16",
                 source="pipeline_flux.py EXAMPLE_DOC_STRING / model card: torch_dtype=torch.bfloat16"),
    CatalogEntry("flux.1-schnell", "black-forest-labs/FLUX.1-schnell", "bf16",
                 source="model card: torch_dtype=torch.bfloat16"),
    CatalogEntry("qwen-image", "Qwen/Qwen-Image", "bf16",
                 source="pipeline_qwenimage.py EXAMPLE_DOC_STRING / model card: torch_dtype=torch.bfloat16"),
)}


def hub_root() -> Path:
    return Path(str(resources.files("symbolic.configs").joinpath("hub")))


def resolve(model: object) -> tuple[CatalogEntry | None, Path]:
    """A bundled id, a Hub id it stands for, or a folder holding ``model_index.json`` -> (entry or None, folder)."""
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model: must be a bundled id ({', '.join(CATALOG)}), its Hub id, or a folder holding "
                         f"model_index.json; got {model!r}")
    key = model.strip()
    entry = CATALOG.get(key.lower()) or next((e for e in CATALOG.values() if e.hub_id.lower() == key.lower()), None)
    if entry is not None:
        return entry, hub_root() / entry.hub_id
    folder = Path(key).expanduser()
    if folder.is_dir():
        if not (folder / "model_index.json").is_file():
            raise ValueError(f"model: folder {key} holds no model_index.json")
        return None, folder
    raise ValueError(f"model: unknown model {key!r}; bundled: {', '.join(CATALOG)} (or their Hub ids, or a folder "
                     f"holding model_index.json)")


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read JSON ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


@dataclass(frozen=True)
class PipelineSource:
    """What a pipeline folder says: its spec, its model components (role -> config dict) and where it came from."""

    name: str
    hub_id: str | None
    folder: str
    spec: PipelineSpec
    configs: tuple[tuple[str, str], ...]  # (role, config.json text): hashable, so sources can key caches
    dtype: str
    component_dtypes: tuple[tuple[str, str], ...] = field(default=())

    def config(self, role: str) -> dict:
        return json.loads(dict(self.configs)[role])

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(role for role, _ in self.configs)


@lru_cache(maxsize=None)
def load(model: str) -> PipelineSource:
    """Read a bundled id, Hub id or folder. Model components are the ``model_index.json`` entries with a
    ``<role>/config.json`` (tokenizers, schedulers and feature extractors have other files); an entry whose
    library and class are null (a pipeline saved without that component) is not loaded."""
    entry, folder = resolve(model)
    index = read_json(folder / "model_index.json")
    class_name = index.get("_class_name")
    if not isinstance(class_name, str):
        raise ValueError(f"{folder / 'model_index.json'}: no _class_name")
    spec = spec_for(class_name, str(folder / "model_index.json"))
    configs = []
    for role, value in index.items():
        if role.startswith("_") or not isinstance(value, list) or value[-1] is None:
            continue
        path = folder / role / "config.json"
        if path.is_file():
            configs.append((role, json.dumps(read_json(path), sort_keys=True)))
    roles = {role for role, _ in configs}
    needed = {spec.denoiser, "vae"} | {call.role for call in spec.text_calls}
    missing = sorted(needed - roles)
    if missing:
        raise ValueError(f"{folder}: {class_name} needs {', '.join(f'{r}/config.json' for r in missing)}")
    if entry is None:
        return PipelineSource(folder.name, None, str(folder), spec, tuple(configs), spec.default_dtype)
    return PipelineSource(entry.id, entry.hub_id, str(folder), spec, tuple(configs), entry.dtype,
                          entry.component_dtypes)


def hub_config(path: str) -> dict:
    """A bundled component config by its Hub path, ``"<org>/<repo>/<component>"``."""
    return read_json(hub_root() / path / "config.json")
