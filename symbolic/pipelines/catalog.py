"""Bundled pipelines: short ids -> Hub repositories whose published configs ship in ``symbolic/configs/hub``, and
the dtypes their model cards load them with. Any folder with a ``model_index.json`` and the components'
``config.json`` files (``huggingface-cli download REPO --include "*.json"``) loads the same way."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from symbolic.components import class_name_of
from symbolic.core.checks import shown
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
    try:
        folder = Path(key).expanduser()
        is_folder = folder.is_dir()
        has_index = is_folder and (folder / "model_index.json").is_file()
    except (OSError, RuntimeError, ValueError) as exc:  # a name too long for the file system, a NUL byte, ~nobody
        raise ValueError(f"model: cannot read {shown(key)} as a folder ({exc.__class__.__name__}: "
                         f"{getattr(exc, 'strerror', None) or exc})") from None
    if is_folder:
        if not has_index:
            raise ValueError(f"model: folder {key} holds no model_index.json")
        return None, folder
    raise ValueError(f"model: unknown model {shown(key)}; bundled: {', '.join(CATALOG)} (or their Hub ids, or a "
                     f"folder holding model_index.json)")


#: Largest config file read: the largest published config is a few kilobytes.
MAX_JSON_BYTES = 1 << 20


def read_json(path: Path) -> dict:
    """A JSON object from ``path``, read with limits (size, nesting, digits): any failure is one ``ValueError``
    naming the file."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_JSON_BYTES + 1)
        if len(raw) > MAX_JSON_BYTES:
            raise ValueError(f"{path}: larger than {MAX_JSON_BYTES} bytes; not a config file")
        data = json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: cannot read JSON (JSONDecodeError: {exc})") from None
    except RecursionError:
        raise ValueError(f"{path}: cannot read JSON (nested too deeply)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: e.g. an integer of over 4300 digits
        if str(exc).startswith(f"{path}: "):
            raise
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
            config = read_json(path)
            named = class_name_of(config)
            if isinstance(value[-1], str) and named is not None and named != value[-1]:
                raise ValueError(f"{path}: configures {named}, and model_index.json says {role} is a {value[-1]}")
            required = {spec.denoiser: spec.denoiser_class, "vae": spec.vae_class}.get(role)
            if required is not None and named is not None and named != required:
                raise ValueError(f"{path}: {class_name} takes a {required} as its {role}, not {named}")
            configs.append((role, json.dumps(config, sort_keys=True)))
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
