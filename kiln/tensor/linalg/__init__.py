"""kiln.tensor.linalg: NumPy/SciPy linear algebra on symbolic tensors.

Ops (perform through NumPy/SciPy LAPACK; derivative rules in kiln/gradient/rules/linalg.py):
inv, pinv, det, slogdet, solve, solve_triangular, cho_solve, cholesky, qr, svd, eigh, eigvalsh,
lstsq; lu, lu_factor, pivot_to_permutation, schur, qz, ordqz, eig, expm (decomp_more.py);
solve_sylvester, solve_discrete_lyapunov, solve_discrete_are, tridiagonal LU (equations.py).
Graph-level functions: norm, matrix_power, kron, einsum, trace; lu_solve,
solve_continuous_lyapunov, tensorinv, tensorsolve, matrix_dot, block_diag (functions_more.py).

Singular or non-positive-definite matrices raise numpy.linalg.LinAlgError naming the op.
Real inputs only for the ops of decomp.py/solve.py; the ops of decomp_more.py/equations.py
also take complex ones.  Integers compute in float64 and float32 stays float32, as in NumPy.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> a = kt.dmatrix("a")
>>> f = kiln.function([a], kt.linalg.det(kt.linalg.inv(a)))
>>> round(float(f(np.array([[2.0, 1.0], [0.0, 4.0]]))), 6)
0.125
"""
from kiln.tensor.einsum import einsum
from kiln.tensor.linalg._util import LinAlgError
from kiln.tensor.linalg.decomp import (QR, SVD, Cholesky, Det, Eigh, Eigvalsh, Lstsq, MatrixInverse, MatrixPinv,
                                       SLogDet, cholesky, det, eigh, eigvalsh, inv, lstsq, pinv, qr, slogdet, svd)
from kiln.tensor.linalg.functions import kron, matrix_power, norm
from kiln.tensor.linalg.solve import Solve, SolveTriangular, cho_solve, solve, solve_triangular
from kiln.tensor.linalg.decomp_more import (LU, QZ, Eig, Expm, ExpmFrechet, LUFactor, PivotToPermutations, Schur,
                                            eig, expm, lu, lu_factor, ordqz, pivot_to_permutation, qz, schur)
from kiln.tensor.linalg.equations import (LUFactorTridiagonal, SolveDiscreteARE, SolveDiscreteLyapunov,
                                          SolveLUFactorTridiagonal, SolveSylvester)
from kiln.tensor.linalg.functions_more import (BlockDiagonal, block_diag, lu_solve, matrix_dot,
                                               solve_continuous_lyapunov, solve_discrete_are,
                                               solve_discrete_lyapunov, solve_sylvester, tensorinv, tensorsolve,
                                               tridiagonal_lu_factor, tridiagonal_lu_solve)
from kiln.tensor.diag_ops import trace

__all__ = ["QR", "SVD", "Cholesky", "Det", "Eigh", "Eigvalsh", "LinAlgError", "Lstsq", "MatrixInverse",
           "MatrixPinv", "SLogDet", "Solve", "SolveTriangular", "cho_solve", "cholesky", "det", "eigh",
           "eigvalsh", "einsum", "inv", "kron", "lstsq", "matrix_power", "norm", "pinv", "qr", "slogdet",
           "solve", "solve_triangular", "svd",
           # PyTensor's remaining linalg names
           "LU", "QZ", "Eig", "Expm", "ExpmFrechet", "LUFactor", "PivotToPermutations", "Schur", "eig", "expm", "lu",
           "lu_factor", "ordqz", "pivot_to_permutation", "qz", "schur", "LUFactorTridiagonal", "SolveDiscreteARE",
           "SolveDiscreteLyapunov", "SolveLUFactorTridiagonal", "SolveSylvester", "BlockDiagonal", "block_diag",
           "lu_solve", "matrix_dot", "solve_continuous_lyapunov", "solve_discrete_are", "solve_discrete_lyapunov",
           "solve_sylvester", "tensorinv", "tensorsolve", "tridiagonal_lu_factor", "tridiagonal_lu_solve", "trace"]

