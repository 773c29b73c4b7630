"""Registers scipy.sparse values with `kiln.shared` (see SHARED_CONSTRUCTORS)."""
from kiln.compile.sharedvalue import SHARED_CONSTRUCTORS
from kiln.sparse._scipy import is_sparse_value
from kiln.sparse.type import sparse_shared

if (is_sparse_value, sparse_shared) not in SHARED_CONSTRUCTORS:
    SHARED_CONSTRUCTORS.append((is_sparse_value, sparse_shared))
