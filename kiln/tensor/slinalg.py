"""PyTensor's `tensor.slinalg` names (SciPy-flavoured linear algebra), from kiln.tensor.linalg.

>>> import kiln.tensor.slinalg as slinalg
>>> slinalg.cholesky is __import__("kiln.tensor.linalg", fromlist=["x"]).cholesky
True
"""
from kiln.tensor.linalg import (Cholesky, Eigvalsh, Solve, SolveTriangular, cho_solve, cholesky,  # noqa: F401
                                eigvalsh, kron, solve, solve_triangular)
from kiln.tensor.linalg import (LU, QR, QZ, BlockDiagonal, Expm, LUFactor, PivotToPermutations,  # noqa: F401,E402
                                Schur, SolveDiscreteARE, SolveDiscreteLyapunov, SolveSylvester, block_diag, expm,
                                lu, lu_factor, lu_solve, ordqz, pivot_to_permutation, qr, qz, schur,
                                solve_continuous_lyapunov, solve_discrete_are, solve_discrete_lyapunov,
                                solve_sylvester)
