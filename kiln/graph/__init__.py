"""The IR: types, variables, apply nodes, ops, function graphs, traversal, cloning."""
from kiln.graph.basic import Apply, Constant, Type, Variable
from kiln.graph.fg import Feature, FunctionGraph, InconsistencyError, MissingInputError
from kiln.graph.inner import InnerGraphOp, graph_signature
from kiln.graph.op import Op
from kiln.graph.replace import clone, clone_get_equiv, clone_replace, graph_replace, vectorize_graph
from kiln.graph.traversal import (ancestors, applys_between, graph_inputs, io_toposort, orphans,
                                  toposort, variables_between)
from kiln.graph.walk import equal_computations, explicit_graph_inputs

__all__ = ["Apply", "Constant", "Type", "Variable", "Feature", "FunctionGraph", "InconsistencyError",
           "MissingInputError", "InnerGraphOp", "graph_signature", "Op", "clone", "clone_get_equiv",
           "clone_replace", "graph_replace", "vectorize_graph", "ancestors", "applys_between", "graph_inputs",
           "io_toposort", "orphans", "toposort", "variables_between", "equal_computations",
           "explicit_graph_inputs"]
