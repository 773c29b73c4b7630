"""Sparse matrices (PyTensor's `pytensor.sparse`): csr/csc types and variables, and ops
computing with scipy.sparse (imported on first use, never by `import kiln`).

>>> import numpy as np, scipy.sparse as ss, kiln, kiln.tensor as kt
>>> import kiln.sparse as ks
>>> x = ks.csr_matrix("x", dtype="float64"); w = kt.dvector("w")
>>> f = kiln.function([x, w], ks.dot(x, w))
>>> f(ss.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0]])), np.array([3.0, 4.0]))
array([3., 8.])

See docs/sparse.md.
"""
from kiln.sparse.type import (SparseTensorType, SparseVariable, SparseConstant, SparseSharedVariable,
                              csr_matrix, csc_matrix, csr_dmatrix, csr_fmatrix, csc_dmatrix, csc_fmatrix,
                              as_sparse_variable, as_sparse, as_sparse_or_tensor_variable, sparse_shared,
                              is_sparse_variable)
from kiln.sparse.basic import (DenseFromSparse, SparseFromDense, CSMProperties, CSM, Transpose, Neg, Cast,
                               Remove0, EnsureSortedIndices, AddSS, AddSD, MulSS, MulSD,
                               dense_from_sparse, csr_from_dense, csc_from_dense, csm_properties, csm_data,
                               csm_indices, csm_indptr, csm_shape, CSR, CSC, transpose, neg, cast, remove0,
                               ensure_sorted_indices, sp_ones_like, sp_zeros_like, add, sub, mul, multiply)
from kiln.sparse.math import (Dot, StructuredDot, TrueDot, SampledDot, SpSum, ColScale, RowScale, Diag,
                              SquareDiagonal, HStack, VStack, dot, structured_dot, true_dot, sampled_dot,
                              sp_sum, col_scale, row_scale, diag, square_diagonal, hstack, vstack,
                              eq, neq, lt, gt, le, ge)
from kiln.sparse.elemwise import (structured_map, structured_exp, structured_log, structured_sigmoid,
                                  structured_pow, structured_minimum, structured_maximum, structured_add,
                                  sin, tan, arcsin, arctan, sinh, arcsinh, tanh, arctanh, sqrt, sqr, floor,
                                  ceil, trunc, sign, sgn, rint, round_half_to_even, expm1, log1p, deg2rad,
                                  rad2deg, conj)
from kiln.sparse.elemwise import abs  # noqa: A004  (PyTensor's name)
from kiln.sparse.subtensor import GetItemScalar, GetItem2d
from kiln.sparse import register as _register  # noqa: F401  (kiln.shared hook)

