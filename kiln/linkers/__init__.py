"""Linkers: turn a rewritten FunctionGraph into something that runs."""
from kiln.linkers.python import PythonLinker
