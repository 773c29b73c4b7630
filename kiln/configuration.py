"""kiln.config: settings read from KILN_FLAGS (``KILN_FLAGS=floatX=float32,linker=py``).

Settings can also be changed at run time (``kiln.config.floatX = "float32"``) or for a
block with ``kiln.config.change_flags(floatX="float32")``.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, fields
from typing import Any, Iterator

__all__ = ["config", "Config"]

_CHOICES = {
    "floatX": ("float64", "float32", "float16"),
    "linker": ("py", "c", "cuda", "auto"),
    "on_unused_input": ("raise", "warn", "ignore"),
}


@dataclass
class Config:
    floatX: str = "float64"
    #: "auto" picks the best linker available (the python linker until the C linker lands)
    linker: str = "auto"
    #: check every output's dtype, ndim and static shape in the python linker (cheap, catches op bugs)
    check_outputs: bool = True
    on_unused_input: str = "raise"
    extra: dict = field(default_factory=dict)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _CHOICES and value not in _CHOICES[name]:
            raise ValueError(f"kiln.config.{name} must be one of {_CHOICES[name]}, not {value!r}")
        object.__setattr__(self, name, value)

    @contextlib.contextmanager
    def change_flags(self, **changes: Any) -> Iterator["Config"]:
        """Temporarily change settings.

        >>> from kiln.configuration import config
        >>> with config.change_flags(floatX="float32"):
        ...     config.floatX
        'float32'
        """
        old = {k: getattr(self, k) for k in changes}
        try:
            for k, v in changes.items():
                setattr(self, k, v)
            yield self
        finally:
            for k, v in old.items():
                setattr(self, k, v)


def _parse_flags(text: str, cfg: Config) -> None:
    known = {f.name: f for f in fields(Config)}
    for item in filter(None, (s.strip() for s in text.split(","))):
        if "=" not in item:
            raise ValueError(f"KILN_FLAGS: expected name=value, got {item!r}")
        key, value = (s.strip() for s in item.split("=", 1))
        if key in known and key != "extra":
            typ = known[key].type
            if typ in (bool, "bool"):
                value = value.lower() in ("1", "true", "yes", "on")
            setattr(cfg, key, value)
        else:
            # settings of later rooms (threads, cache_keep_failed, ...) are kept as strings
            cfg.extra[key] = value


config = Config()
_parse_flags(os.environ.get("KILN_FLAGS", ""), config)
