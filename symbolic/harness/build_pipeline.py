"""Any bundled pipeline (or a folder of configs) built from its configs with random weights, no Hub access.

The real classes named by ``model_index.json`` are used, so the tensors (shapes, dtypes, the order they are
allocated) and the code that runs are those of ``DiffusionPipeline.from_pretrained(..., torch_dtype=...)``; only
the weights' values differ, and values do not change memory.

Components
    * every model role of :func:`symbolic.pipelines.catalog.load` (``<role>/config.json``): diffusers classes with
      ``ModelMixin.from_config``, transformers classes with ``cls(cls.config_class(**config))``, SD 1.5's
      ``StableDiffusionSafetyChecker`` with a ``CLIPConfig`` built from its ``vision_config`` and ``projection_dim``;
    * built with their parameters on the ``meta`` device (buffers real, on the CPU: :func:`parameters_on_meta`, as
      ``accelerate.init_empty_weights(include_buffers=False)`` inside ``from_pretrained``), then every tensor is
      allocated on the target device in its loaded dtype in ``module.to()``'s order (children first, then own
      parameters, then own buffers), parameters filled with N(0, 0.02) noise: nothing is built twice, nothing
      passes through host memory;
    * loaded dtype per role: the estimate's (``make_config(model, dtype).dtype_of(role)``: the catalog's dtypes, or
      every component in an explicit ``dtype``), applied as the loaders do: diffusers keeps a tensor whose dotted
      name has a part in ``_keep_in_fp32_modules`` in float32 under any half-precision load; transformers does that
      for ``_keep_in_fp32_modules`` only under float16 (T5's ``wo``) and for ``_keep_in_fp32_modules_strict`` under
      float16 and bfloat16; non-persistent buffers keep the dtype ``__init__`` gave them; integer tensors keep theirs;
    * scheduler: ``scheduler/scheduler_config.json`` when the folder has one, else the class of ``model_index.json``
      with its defaults (values do not change memory);
    * tokenizers, offline: a ``CLIPTokenizer`` role gets a byte-level BPE tokenizer over a small vocabulary
      (:func:`clip_tokenizer`, ``model_max_length`` 77); every other tokenizer (T5,
      umT5, LLaMA, Qwen2) is a ``PreTrainedTokenizerFast`` over a small word-level vocabulary
      (:func:`word_tokenizer`: whitespace-split words, ``</s>`` appended, ``<pad>`` padding). The pipelines call them
      with ``padding="max_length"`` (T5, LLaMA: the token count is the pipeline's, whatever the prompt) or
      ``padding=True`` (Qwen-Image: the prompt's length counts; :func:`make_prompt` makes a prompt of exactly the
      tokens asked for, template included). Each word of the prompt (``"a"``) is one token in both tokenizers, so
      the text encoders run on the real pipelines' token counts: the prompts go through the real
      ``encode_prompt``, nothing is bypassed;
    * SD 1.5's ``feature_extractor``: CLIP's image processor with its defaults (:func:`build_feature_extractor`).

On the ``meta`` device the same components cost nothing: :mod:`symbolic.harness.meta_trace` runs them there, and
:func:`tensor_sizes` lists every tensor in the order ``module.to()`` allocates it (the component tests compare it
with ``symbolic.components``' tensor lists).

The pipeline class is ``model_index.json``'s ``_class_name`` (``img2img``: its image-to-image sibling from diffusers'
``AUTO_IMAGE2IMAGE_PIPELINES_MAPPING``), constructed with the components its ``__init__`` takes
(``requires_safety_checker`` / ``force_zeros_for_empty_prompt`` from ``model_index.json``, ``add_watermarker=False``).

``config_overrides`` (the CPU tests' tiny models): ``{role: {...}}`` merged recursively into the bundled configs.

Requires torch, diffusers and transformers (the ``gpu`` extra); never imported by the core package.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from symbolic.pipelines import catalog
from symbolic.pipelines.api import make_config

if TYPE_CHECKING:
    import torch
    from torch import nn

INIT_STD = 0.02
#: Words of the word-level vocabulary (ids after the special tokens); ``"a"`` is the prompt's word.
_WORDS = ("a", "the", "photo", "of", "cat", "dog", "and")
_SPECIALS = ("<pad>", "</s>", "<unk>")


def _merge(base: dict, override: Mapping | None) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def model_index(model: str) -> dict:
    return catalog.read_json(Path(catalog.load(model).folder) / "model_index.json")


def role_dtype(model: str, role: str, dtype: str | None = None) -> str:
    """``fp16`` / ``bf16`` / ``fp32``: the dtype the estimate gives ``role`` (``dtype`` None: the catalog's)."""
    return make_config(model, dtype).dtype_of(role)


def role_config(model: str, role: str, override: Mapping | None = None) -> dict:
    raw = catalog.load(model).config(role)
    return _merge({k: v for k, v in raw.items() if not k.startswith("_")}, override)


def role_class(model: str, role: str):
    """(library, class) of a model role, from ``model_index.json``."""
    library, name = model_index(model)[role][:2]
    if name == "StableDiffusionSafetyChecker":
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

        return "diffusers", StableDiffusionSafetyChecker
    if library == "transformers":
        import transformers

        return "transformers", getattr(transformers, name)
    import diffusers

    return "diffusers", getattr(diffusers, name)


# --------------------------------------------------------------------------------------------------- dtype rule

#: The estimate's dtype names (``PipelineConfig.dtype_of``) and torch's long names -> ``torch`` attribute.
_TORCH_DTYPES = {"fp32": "float32", "float32": "float32", "fp16": "float16", "float16": "float16",
                 "bf16": "bfloat16", "bfloat16": "bfloat16"}


def resolve_dtype(dtype) -> torch.dtype:
    """``"fp16"`` / ``"bf16"`` / ``"fp32"`` (or ``"float16"``, ..., or a ``torch.dtype``) -> ``torch.dtype``."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return getattr(torch, _TORCH_DTYPES[str(dtype).lower()])
    except KeyError:
        raise ValueError(f"dtype must be one of {sorted(_TORCH_DTYPES)}, not {dtype!r}") from None


def dtype_name(dtype) -> str:
    """The estimate's name (``fp16`` / ``bf16`` / ``fp32``) of a dtype given either way."""
    target = resolve_dtype(dtype)
    return next(short for short, long in _TORCH_DTYPES.items() if len(short) == 4 and long == str(target)[6:])


@contextlib.contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Every parameter registered inside goes to the ``meta`` device; buffers stay where they are built
    (``accelerate.init_empty_weights(include_buffers=False)``, which ``from_pretrained`` uses): nothing is allocated
    twice, and buffers computed in ``__init__`` (RoPE tables, position ids) keep their values."""
    from torch import nn

    original = nn.Module.register_parameter

    def register_parameter(self, name, param):
        original(self, name, param)
        if param is not None and param.device.type != "meta":
            self._parameters[name] = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)

    nn.Module.register_parameter = register_parameter
    try:
        yield
    finally:
        nn.Module.register_parameter = original


def keep_fp32_names(module: nn.Module, library: str, target: torch.dtype) -> tuple[str, ...]:
    """Module names kept in float32 under ``from_pretrained(torch_dtype=target)`` (see the module docstring)."""
    import torch

    if target == torch.float32:
        return ()
    keep = set(getattr(module, "_keep_in_fp32_modules", None) or ())
    if library == "transformers":
        if target != torch.float16:
            keep = set()
        keep |= set(getattr(module, "_keep_in_fp32_modules_strict", None) or ())
    return tuple(sorted(keep))


def _post_order(module: nn.Module, prefix: str = "") -> Iterator[tuple[str, nn.Module]]:
    for child_name, child in module.named_children():
        yield from _post_order(child, f"{prefix}{child_name}.")
    yield prefix, module


def materialize(module: nn.Module, device, dtype: torch.dtype, keep_fp32: tuple[str, ...] = (),
                init_std: float = INIT_STD) -> nn.Module:
    """Allocate every tensor of ``module`` on ``device`` in its loaded dtype, in ``.to()``'s order; a tensor shared
    by two modules (tied embeddings) once. On ``meta`` only the dtypes change."""
    import torch
    from torch import nn

    device = torch.device(device)
    done: dict[int, torch.Tensor] = {}

    def loaded(name: str, current: torch.dtype, in_checkpoint: bool) -> torch.dtype:
        if not in_checkpoint or not current.is_floating_point:
            return current
        if keep_fp32 and any(k in name.split(".") for k in keep_fp32):
            return torch.float32
        return dtype

    for prefix, mod in _post_order(module):
        for key, param in list(mod._parameters.items()):
            if param is None:
                continue
            if id(param) in done:
                mod._parameters[key] = done[id(param)]
                continue
            dt = loaded(prefix + key, param.dtype, True)
            data = torch.empty(param.shape, dtype=dt, device=device)
            if device.type != "meta" and dt.is_floating_point:
                data.normal_(0.0, init_std)
            done[id(param)] = mod._parameters[key] = nn.Parameter(data, requires_grad=False)
        for key, buf in list(mod._buffers.items()):
            if buf is None:
                continue
            if id(buf) in done:
                mod._buffers[key] = done[id(buf)]
                continue
            dt = loaded(prefix + key, buf.dtype, key not in mod._non_persistent_buffers_set)
            new = (torch.empty(buf.shape, dtype=dt, device=device) if buf.device.type == "meta"
                   else buf.to(device=device, dtype=dt))
            done[id(buf)] = mod._buffers[key] = new
    return module


@contextlib.contextmanager
def _quiet():
    from diffusers.utils import logging as dlogging
    from transformers.utils import logging as tlogging

    levels = dlogging.get_verbosity(), tlogging.get_verbosity()
    dlogging.set_verbosity_error()
    tlogging.set_verbosity_error()
    try:
        yield
    finally:
        dlogging.set_verbosity(levels[0])
        tlogging.set_verbosity(levels[1])


def _construct(library: str, cls, config: dict):
    if cls.__name__ == "StableDiffusionSafetyChecker":
        from transformers import CLIPConfig

        return cls(CLIPConfig(vision_config=dict(config["vision_config"]), projection_dim=config["projection_dim"]))
    if library == "transformers":
        return cls(cls.config_class(**config))
    return cls.from_config(config)


def build_module(model: str, role: str, device="cpu", dtype: str | None = None,
                 override: Mapping | None = None) -> nn.Module:
    """One model role with random weights on ``device`` in its loaded dtypes, eval mode, gradients off."""
    import torch

    library, cls = role_class(model, role)
    config = role_config(model, role, override)
    target = resolve_dtype(role_dtype(model, role, dtype))
    device = torch.device(device)
    with contextlib.ExitStack() as stack:
        if device.type == "meta":
            stack.enter_context(torch.device("meta"))
        else:
            stack.enter_context(torch.device("cpu"))
            stack.enter_context(parameters_on_meta())
        stack.enter_context(_quiet())
        module = _construct(library, cls, config)
    materialize(module, device, target, keep_fp32_names(module, library, target))
    return module.eval().requires_grad_(False)


# --------------------------------------------------------------------------------------------------- tokenizers


def word_tokenizer(model_max_length: int = 512):
    """A word-level fast tokenizer: ``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2, then :data:`_WORDS`; whitespace-split
    words (any other word is ``<unk>``), ``</s>`` appended: a prompt of ``n`` words is ``n + 1`` tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(_SPECIALS + _WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A $B </s>",
                                                       special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=model_max_length)


def is_word_tokenizer(tokenizer) -> bool:
    """Whether ``tokenizer`` is one :func:`word_tokenizer` built (its vocabulary)."""
    try:
        return tokenizer.get_vocab() == {tok: i for i, tok in enumerate(_SPECIALS + _WORDS)}
    except Exception:
        return False


#: CLIP's ``model_max_length`` (``tokenizer/tokenizer_config.json`` of every CLIP tokenizer the bundled pipelines
#: name: 77).
CLIP_MAX_LENGTH = 77
CLIP_BOS = "<|startoftext|>"
CLIP_EOS = "<|endoftext|>"
#: A few BPE merges on top of the 512 byte-level symbols, so the CLIP tokenizer exercises its merge path.
_CLIP_MERGES = ("t h", "th e</w>", "a n", "an d</w>", "o f</w>", "i n", "p h", "o t", "ot o</w>", "ph oto</w>")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2 / CLIP byte -> printable unicode character table (the byte-level BPE alphabet)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1))
          + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def clip_vocabulary() -> tuple[dict[str, int], list[str]]:
    """A byte-level CLIP BPE vocabulary and its merges: the 256 byte symbols, the same with the end-of-word suffix
    ``</w>``, one token per merge, then ``<|startoftext|>`` and ``<|endoftext|>`` (the layout of CLIP's real
    vocabulary, 522 tokens instead of 49,408). A one-letter word is one token."""
    chars = list(_bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m.split()) for m in _CLIP_MERGES] + [CLIP_BOS, CLIP_EOS]
    return {tok: i for i, tok in enumerate(tokens)}, list(_CLIP_MERGES)


def clip_tokenizer(model_max_length: int = CLIP_MAX_LENGTH):
    """A ``CLIPTokenizer`` over :func:`clip_vocabulary`, written to a temporary directory (offline)."""
    import tempfile

    from transformers import CLIPTokenizer

    vocab, merges = clip_vocabulary()
    with tempfile.TemporaryDirectory(prefix="clip_tokenizer_") as tmp:
        folder = Path(tmp)
        (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
        (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
        return CLIPTokenizer.from_pretrained(tmp, model_max_length=model_max_length)


def build_tokenizer(class_name: str):
    """The offline tokenizer of a ``tokenizer*`` role whose class ``model_index.json`` names."""
    return clip_tokenizer() if class_name == "CLIPTokenizer" else word_tokenizer()


def build_feature_extractor():
    """CLIP's image processor with its defaults (resize shortest edge 224, centre crop 224, CLIP mean/std).

    transformers 5 falls back to the PIL backend when torchvision is missing; the PIL class is used directly then,
    which avoids the warning. Either way the processing runs on the CPU; the pipeline moves ``pixel_values`` to the
    device."""
    import importlib.util

    import transformers

    if importlib.util.find_spec("torchvision") is not None:
        return transformers.CLIPImageProcessor()
    return getattr(transformers, "CLIPImageProcessorPil", transformers.CLIPImageProcessor)()


# --------------------------------------------------------------------------------------------------- scheduler


def build_scheduler(model: str):
    import diffusers

    name = model_index(model)["scheduler"][1]
    cls = getattr(diffusers, name)
    path = Path(catalog.load(model).folder) / "scheduler" / "scheduler_config.json"
    if path.is_file():
        return cls.from_config(catalog.read_json(path))
    return cls()


# --------------------------------------------------------------------------------------------------- components


def build_components(model: str, device="cpu", dtype: str | None = None,
                     config_overrides: Mapping[str, Mapping] | None = None) -> dict[str, Any]:
    """Every component ``model_index.json`` names (None where it is null), models on ``device``."""
    source = catalog.load(model)
    overrides = dict(config_overrides or {})
    index = model_index(model)
    components: dict[str, Any] = {}
    for role, value in index.items():
        if role.startswith("_") or not isinstance(value, list):
            continue
        name = value[-1]
        if name is None:
            components[role] = None
        elif role in source.roles:
            components[role] = build_module(model, role, device, dtype, overrides.get(role))
        elif role.startswith("tokenizer"):
            components[role] = build_tokenizer(name)
        elif role == "scheduler":
            components[role] = build_scheduler(model)
        elif role == "feature_extractor":
            components[role] = build_feature_extractor()
    return components


def pipeline_class(model: str, task: str = "txt2img"):
    import diffusers

    name = model_index(model)["_class_name"]
    cls = getattr(diffusers, name)
    if task == "txt2img":
        return cls
    if task == "img2img":
        from diffusers.pipelines.auto_pipeline import AUTO_IMAGE2IMAGE_PIPELINES_MAPPING, _get_task_class

        return _get_task_class(AUTO_IMAGE2IMAGE_PIPELINES_MAPPING, name)
    raise ValueError(f"task must be txt2img or img2img, not {task!r}")


def pipeline_from_components(model: str, components: Mapping[str, Any], task: str = "txt2img"):
    """The pipeline class of ``task`` around existing components (shared, not copied)."""
    cls = pipeline_class(model, task)
    index = model_index(model)
    params = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, Any] = {}
    for name, param in params.items():
        if name == "self" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        if name in components:
            kwargs[name] = components[name]
        elif name == "requires_safety_checker":
            kwargs[name] = bool(index.get(name, components.get("safety_checker") is not None))
        elif name == "add_watermarker":
            kwargs[name] = False
        elif name in index and not isinstance(index[name], list):
            kwargs[name] = index[name]
        elif param.default is inspect.Parameter.empty:
            kwargs[name] = None  # an optional component the folder lacks (image_encoder, ...)
    with _quiet():
        pipe = cls(**kwargs)
    pipe.set_progress_bar_config(disable=True)
    word_level_template(pipe)
    return pipe


#: Tokens of Qwen-Image's template after the prompt in the real Qwen2 tokenizer: ``<|im_end|>``, ``\n``,
#: ``<|im_start|>``, ``assistant``, ``\n``.
TEMPLATE_SUFFIX_TOKENS = 5


def word_level_template(pipe) -> None:
    """Qwen-Image wraps the prompt in a chat template and drops its first ``prompt_template_encode_start_idx`` (34)
    encoded tokens: with the word-level tokenizer the template is replaced by one of the same token counts (34
    words before the prompt; 4 words + ``</s>`` after it), so the kept tokens are the prompt's plus the 5 of the
    suffix, as with the real tokenizer."""
    template = getattr(pipe, "prompt_template_encode", None)
    drop = getattr(pipe, "prompt_template_encode_start_idx", None)
    if not isinstance(template, str) or not isinstance(drop, int):
        return
    if not is_word_tokenizer(getattr(pipe, "tokenizer", None)):
        return
    pipe.prompt_template_encode = " ".join(["the"] * drop) + " {} " + " ".join(["the"] * (TEMPLATE_SUFFIX_TOKENS - 1))


def build_pipeline(model: str, task: str = "txt2img", device="cpu", dtype: str | None = None,
                   config_overrides: Mapping[str, Mapping] | None = None):
    return pipeline_from_components(model, build_components(model, device, dtype, config_overrides), task)


# --------------------------------------------------------------------------------------------------- prompts


def _prompt_template(pipe) -> str:
    """The template the first text encoder's prompt goes through (Qwen-Image), or ``{}``."""
    template = getattr(pipe, "prompt_template_encode", None)
    return template if isinstance(template, str) else "{}"


def count_tokens(pipe, prompt: str) -> int:
    """Tokens of ``prompt`` (template included) in the first tokenizer, before padding and truncation."""
    text = _prompt_template(pipe).format(prompt)
    return len(pipe.tokenizer(text, padding=False, truncation=False).input_ids)


def make_prompt(pipe, n_tokens: int) -> str:
    """A prompt of ``"a"`` words that the first tokenizer turns into exactly ``n_tokens`` tokens (template and
    special tokens included, before padding and truncation) when ``n_tokens`` is at least the empty prompt's
    count; ``""`` below it."""
    base = count_tokens(pipe, "")
    if n_tokens <= base:
        return ""
    # A word glued to the template's text (``user\n{}<|im_end|>``) may not add a token: step up from the estimate.
    for words in range(max(0, int(n_tokens) - base - 2), int(n_tokens) + 2):
        prompt = " ".join(["a"] * words)
        got = count_tokens(pipe, prompt)
        if got == n_tokens:
            return prompt
        if got > n_tokens:
            break
    raise RuntimeError(f"no prompt of 'a' words tokenizes to {n_tokens} tokens (template {_prompt_template(pipe)!r})")


def default_prompt_tokens(model: str) -> int:
    """The first text call's tokens (``PipelineSpec.text_calls[0].tokens_in``): a full CLIP prompt (77), Qwen-Image's
    34 template tokens + 512; T5 and LLaMA pad to their length anyway."""
    return int(catalog.load(model).spec.text_calls[0].tokens_in)


# --------------------------------------------------------------------------------------------------- counting


@dataclass(frozen=True)
class TensorSize:
    """One parameter or buffer as ``module.to()`` allocates it."""

    name: str
    kind: str  # "parameter" | "buffer"
    shape: tuple[int, ...]
    dtype: torch.dtype
    numel: int
    nbytes: int


def tensor_sizes(module: nn.Module) -> list[TensorSize]:
    """Every parameter and buffer of ``module`` in the order ``module.to(...)`` allocates them, in their current
    dtypes: ``nn.Module._apply`` recurses into the children first, then converts the module's own parameters, then
    its buffers (:func:`_post_order`). A tensor shared by two modules is listed once (the second conversion is a
    no-op)."""
    out: list[TensorSize] = []
    seen: set[int] = set()
    for prefix, mod in _post_order(module):
        for kind, table in (("parameter", mod._parameters), ("buffer", mod._buffers)):
            for key, t in table.items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                out.append(TensorSize(f"{prefix}{key}", kind, tuple(t.shape), t.dtype, t.numel(),
                                      t.numel() * t.element_size()))
    return out


def weight_bytes(module: nn.Module) -> int:
    seen: set[int] = set()
    total = 0
    for t in list(module.parameters()) + list(module.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def summary(components: Mapping[str, Any]) -> dict[str, int]:
    """Weight bytes per model role."""
    from torch import nn

    return {role: weight_bytes(m) for role, m in components.items() if isinstance(m, nn.Module)}


def describe(model: str) -> str:
    return json.dumps({"model": model, "index": model_index(model)}, indent=1)
