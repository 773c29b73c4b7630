"""kiln.printing: debugprint, pprint and pydotprint (implemented in kiln.graph.printing), and the
Print op (kiln/print_op.py)."""
from kiln.graph.printing import (char_from_number, debugprint, listing, pp, pprint,  # noqa: F401
                                 pydotprint, register_infix, register_prefix)

from kiln.print_op import Print  # noqa: F401,E402

dprint = debugprint  # PyTensor's short name

__all__ = ["debugprint", "dprint", "listing", "pprint", "pp", "pydotprint", "register_infix", "register_prefix",
           "char_from_number", "Print"]
