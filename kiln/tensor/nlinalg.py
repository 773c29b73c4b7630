"""PyTensor's `tensor.nlinalg` names (NumPy-flavoured linear algebra), from kiln.tensor.linalg.

>>> import kiln.tensor.nlinalg as nlinalg
>>> nlinalg.matrix_inverse is nlinalg.inv
True
"""
from kiln.tensor.linalg import (QR, SVD, Det, Eigh, Lstsq, MatrixInverse, MatrixPinv, SLogDet,  # noqa: F401
                                det, eigh, inv, lstsq, matrix_power, norm, pinv, qr, slogdet, svd)

matrix_inverse = inv
from kiln.tensor.linalg import Eig, eig, kron, matrix_dot, tensorinv, tensorsolve, trace  # noqa: F401,E402
