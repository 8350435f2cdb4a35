"""The component library: one class per diffusers / transformers model class, keyed by the ``_class_name``
(diffusers) or ``architectures[0]`` (transformers) of its ``config.json``.

A component module registers its class with :func:`register`; every module of this package is imported on first use
(``pkgutil``), so adding a component is adding a module. Shared building blocks (tensor records, ResNet blocks) live in
:mod:`symbolic.components.layers`. What a component class provides is described in
:mod:`symbolic.components.protocol`.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

_REGISTRY: dict[str, type] = {}
_LOADED = False
#: Modules of this package that hold no component class.
_NOT_COMPONENTS = {"protocol", "layers", "base", "shapes", "config_values"}


def register(*class_names: str) -> Callable[[type], type]:
    """Class decorator: the component class models the diffusers / transformers classes ``class_names``."""

    def decorate(cls: type) -> type:
        for name in class_names:
            if name in _REGISTRY:
                raise ValueError(f"component class {name!r} registered twice ({_REGISTRY[name].__name__}, "
                                 f"{cls.__name__})")
            _REGISTRY[name] = cls
        return cls

    return decorate


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    for info in pkgutil.iter_modules(__path__):
        if info.name not in _NOT_COMPONENTS and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _LOADED = True


def supported_classes() -> tuple[str, ...]:
    _load_all()
    return tuple(sorted(_REGISTRY))


def class_name_of(config: dict) -> str | None:
    """The class a ``config.json`` describes: diffusers' ``_class_name`` or transformers' ``architectures[0]``."""
    name = config.get("_class_name")
    if name is None and isinstance(config.get("architectures"), list) and config["architectures"]:
        name = config["architectures"][0]
    return name if isinstance(name, str) else None


def registered(class_name: str | None) -> bool:
    """Whether a component class models ``class_name``."""
    _load_all()
    return class_name in _REGISTRY


def component_class(class_name: str, where: str = "config.json") -> type:
    """The component class modelling ``class_name``; a ``ValueError`` naming the class, the file and the supported
    classes when there is none (never a guess)."""
    _load_all()
    try:
        return _REGISTRY[class_name]
    except KeyError:
        raise ValueError(f"{where}: component class {class_name!r} has no model here; supported: "
                         f"{', '.join(supported_classes())}") from None


def from_config(config: dict, where: str = "config.json"):
    """The component for one ``config.json`` (a dict), its class chosen by the config's class name."""
    name = class_name_of(config)
    if name is None:
        raise ValueError(f"{where}: no _class_name or architectures entry: cannot tell which class it configures")
    # The derivation side only (a warm call builds no component): each value is checked as the class reads it.
    from symbolic.components.config_values import CheckedConfig

    return component_class(name, where)(CheckedConfig(config, where))
