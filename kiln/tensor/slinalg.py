"""PyTensor's `tensor.slinalg` names (SciPy-flavoured linear algebra), from kiln.tensor.linalg.

>>> import kiln.tensor.slinalg as slinalg
>>> slinalg.cholesky is __import__("kiln.tensor.linalg", fromlist=["x"]).cholesky
True
"""
from kiln.tensor.linalg import (Cholesky, Eigvalsh, Solve, SolveTriangular, cho_solve, cholesky,  # noqa: F401
                                eigvalsh, kron, solve, solve_triangular)
