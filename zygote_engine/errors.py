"""Exception classes of the engine; every message says where (file:line) and what to do."""

from __future__ import annotations

import sys

__all__ = [
    "MissingRuleError",
    "MutationError",
    "NonScalarOutputError",
    "UnsupportedConstructError",
    "ZygoteError",
    "user_location",
]

# Generated functions carry these suffixes; frames running them point at user source lines.
GENERATED_SUFFIXES = ("__forward", "__backward", "__jvp")


class ZygoteError(Exception):
    """Base class of every error raised by zygote_engine."""


class UnsupportedConstructError(ZygoteError, SyntaxError):
    """The function uses Python syntax the engine cannot differentiate."""


class MissingRuleError(ZygoteError, TypeError):
    """A compiled (non-Python) callable was reached that has no ``rrule``."""


class NonScalarOutputError(ZygoteError, TypeError):
    """``gradient`` was given a function whose result is not a real scalar."""


class MutationError(ZygoteError, TypeError):
    """An array was mutated in place inside differentiated code."""


def user_location() -> str:
    """``file:line`` of the innermost user statement being differentiated, or ``"<unknown>"``.

    Generated code is compiled with the user's filename and line numbers, so the innermost
    frame that runs generated code is positioned on the user's own line.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name.endswith(GENERATED_SUFFIXES):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"
