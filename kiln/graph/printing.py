"""Printing graphs: `debugprint` (one line per node) and `pprint` (infix math)."""
from __future__ import annotations


def debugprint(obj, file=None, print_type=False):
    raise NotImplementedError
def pprint(obj):
    raise NotImplementedError
pp = pprint
