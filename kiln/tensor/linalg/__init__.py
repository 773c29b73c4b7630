"""kiln.tensor.linalg: NumPy/SciPy linear algebra on symbolic tensors.

Ops (perform through NumPy/SciPy LAPACK; derivative rules in kiln/gradient/rules/linalg.py):
inv, pinv, det, slogdet, solve, solve_triangular, cho_solve, cholesky, qr, svd, eigh, eigvalsh,
lstsq.  Graph-level functions: norm, matrix_power, kron, einsum.

Singular or non-positive-definite matrices raise numpy.linalg.LinAlgError naming the op.
Real inputs only; integers compute in float64 and float32 stays float32, as in NumPy.

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

__all__ = ["QR", "SVD", "Cholesky", "Det", "Eigh", "Eigvalsh", "LinAlgError", "Lstsq", "MatrixInverse",
           "MatrixPinv", "SLogDet", "Solve", "SolveTriangular", "cho_solve", "cholesky", "det", "eigh",
           "eigvalsh", "einsum", "inv", "kron", "lstsq", "matrix_power", "norm", "pinv", "qr", "slogdet",
           "solve", "solve_triangular", "svd"]

