"""Loops: `scan` (PyTensor's scan), its op, `until` (while loops), and its derivative rules."""
from kiln.scan.basic import scan
from kiln.scan.op import Scan
from kiln.scan.utils import until
from kiln.scan.views import foldl, foldr, map, reduce  # noqa: A004  (PyTensor's names)
from kiln.scan import grad as _grad  # noqa: F401  (registers the Scan jvp/transpose rules)

__all__ = ["scan", "Scan", "until", "map", "reduce", "foldl", "foldr"]

# `kiln.scan` is the function (as `pytensor.scan` is); let `kiln.scan.until` and
# `kiln.scan.utils.until` also work as attribute lookups, not only as imports
from kiln.scan import utils, views  # noqa: E402

scan.until = until
scan.utils = utils
scan.views = views
scan.map, scan.reduce, scan.foldl, scan.foldr = map, reduce, foldl, foldr
