"""Loops: `scan` (PyTensor's scan), its op, and its derivative rules."""
from kiln.scan.basic import scan
from kiln.scan.op import Scan
from kiln.scan import grad as _grad  # noqa: F401  (registers the Scan jvp/transpose rules)

__all__ = ["scan", "Scan"]
