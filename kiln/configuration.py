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
    "optimizer": ("fast_run", "fast_compile", "merge", "o1", "o2", "o3", "o4", "stabilize", "unsafe", "None"),
    "compute_test_value": ("off", "ignore", "warn", "raise", "pdb"),
    "device": ("cpu",),
    "exception_verbosity": ("low", "high"),
}


@dataclass
class Config:
    floatX: str = "float64"
    #: "auto" picks the C linker when a compiler and a usable module cache exist, else the python one
    linker: str = "auto"
    #: check every output's dtype, ndim and static shape in the python linker (cheap, catches op bugs)
    check_outputs: bool = True
    on_unused_input: str = "raise"
    #: the mode function() uses when given none: "Mode" (kiln's default Mode, with
    #: `optimizer`'s rewrites) or a predefined name ("FAST_RUN", "FAST_COMPILE", "PY", ...)
    mode: str = "Mode"
    #: the rewrites of the default mode, in PyTensor's names ("None": no rewrites)
    optimizer: str = "fast_run"
    # PyTensor settings accepted so that ported scripts run; they change nothing in kiln:
    # kiln computes no test values, runs on the CPU, and its errors always name the op and shapes
    compute_test_value: str = "off"
    device: str = "cpu"
    exception_verbosity: str = "low"
    extra: dict = field(default_factory=dict)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _FIELDS:
            raise AttributeError(f"kiln.config has no setting {name!r} (settings: {', '.join(_FIELDS)}); "
                                 f"settings of other parts of kiln live in kiln.config.extra")
        if name in _CHOICES and value not in _CHOICES[name]:
            raise ValueError(f"kiln.config.{name} must be one of {_CHOICES[name]}, not {value!r}")
        if name in _BOOLS and not isinstance(value, bool):
            raise ValueError(f"kiln.config.{name} must be True or False, not {value!r}")
        object.__setattr__(self, name, value)

    @contextlib.contextmanager
    def change_flags(self, **changes: Any) -> Iterator["Config"]:
        """Temporarily change settings.

        >>> from kiln.configuration import config
        >>> with config.change_flags(floatX="float32"):
        ...     config.floatX
        'float32'
        """
        known = {k: v for k, v in changes.items() if k in _FIELDS and k != "extra"}
        extra = {k: v for k, v in changes.items() if k not in known}
        old = {k: getattr(self, k) for k in known}
        old_extra = dict(self.extra)
        try:
            for k, v in known.items():
                setattr(self, k, v)
            # names kiln's core does not know are settings of other rooms: kept in `extra`
            self.extra.update(extra)
            yield self
        finally:
            for k, v in old.items():
                object.__setattr__(self, k, v)
            self.extra.clear()
            self.extra.update(old_extra)


_FIELDS = tuple(f.name for f in fields(Config))
_BOOLS = tuple(f.name for f in fields(Config) if f.type in (bool, "bool"))
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _parse_flags(text: str, cfg: Config) -> None:
    """Apply 'name=value,name=value' settings (the KILN_FLAGS syntax) to cfg.

    >>> c = Config(); _parse_flags("floatX=float32, check_outputs=false, threads=4", c)
    >>> (c.floatX, c.check_outputs, c.extra)
    ('float32', False, {'threads': '4'})
    """
    for item in filter(None, (s.strip() for s in text.split(","))):
        if "=" not in item:
            raise ValueError(f"KILN_FLAGS: expected name=value, got {item!r}")
        key, value = (s.strip() for s in item.split("=", 1))
        if not key:
            raise ValueError(f"KILN_FLAGS: missing setting name in {item!r}")
        if key in _FIELDS and key != "extra":
            if key in _BOOLS:
                if value.lower() not in _TRUE + _FALSE:
                    raise ValueError(f"KILN_FLAGS: {key} must be one of {_TRUE + _FALSE}, not {value!r}")
                value = value.lower() in _TRUE
            try:
                setattr(cfg, key, value)
            except ValueError as e:
                raise ValueError(f"KILN_FLAGS: {e}") from None
        else:
            # settings of later rooms (threads, cache_keep_failed, ...) are kept as strings
            cfg.extra[key] = value


config = Config()
_parse_flags(os.environ.get("KILN_FLAGS", ""), config)
