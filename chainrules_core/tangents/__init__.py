"""Tangent types: the strong zeros, thunks and structural tangents (one module per kind)."""

from chainrules_core.tangents.abstract_zero import AbstractZero, NoTangent, ZeroTangent
from chainrules_core.tangents.structural import Tangent, canonicalize
from chainrules_core.tangents.thunks import InplaceableThunk, Thunk, thunk, unthunk

__all__ = [
    "AbstractZero",
    "InplaceableThunk",
    "NoTangent",
    "Tangent",
    "Thunk",
    "ZeroTangent",
    "canonicalize",
    "thunk",
    "unthunk",
]
