"""kiln.printing: debugprint and pprint (implemented in kiln.graph.printing)."""
from kiln.graph.printing import debugprint, pprint, pp  # noqa: F401
