"""Builtins with no derivative: len, isinstance, type, print, range, comparisons, logging."""
