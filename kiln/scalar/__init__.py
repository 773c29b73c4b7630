"""Scalar types and scalar ops: the alphabet that elementwise ops and fusion are made of."""
from kiln.scalar.basic import ScalarOp, ScalarType, as_scalar, float_out_dtype, scalar_type
from kiln.scalar.math import *  # noqa: F401,F403  (the op classes and their singletons)
from kiln.scalar import dtypes
