"""Room for recursion: differentiated code needs more Python frames than the code itself.

A call of a Python function through the engine takes two or three frames (the call protocol
and the generated code), and the backward pass replays it in one more. While any
differentiation runs, the recursion limit is raised to :data:`FRAMES_PER_LEVEL` times what the
user set, so a recursive function that runs plainly under the user's limit can be
differentiated under it too; the user's limit is restored when the last differentiation ends.
Past that depth, the ``RecursionError`` says what to do.
"""

from __future__ import annotations

import sys
import threading

__all__ = ["FRAMES_PER_LEVEL", "room_to_recurse"]

FRAMES_PER_LEVEL = 4


class _Room:
    """The context manager :func:`room_to_recurse` returns (a class: it is entered on every
    differentiation, and a generator-based one costs microseconds)."""

    __slots__ = ("active", "lock", "user_limit")

    def __init__(self) -> None:
        self.lock, self.active, self.user_limit = threading.Lock(), 0, 0

    def __enter__(self) -> None:
        self.lock.acquire()  # (not a with statement: this runs twice per gradient)
        try:
            if self.active == 0:
                self.user_limit = sys.getrecursionlimit()
                sys.setrecursionlimit(FRAMES_PER_LEVEL * self.user_limit)
            self.active += 1
        finally:
            self.lock.release()

    def __exit__(self, kind, error, traceback) -> None:
        limit = self.user_limit
        self.lock.acquire()
        try:
            self.active -= 1
            if self.active == 0:
                sys.setrecursionlimit(limit)
        finally:
            self.lock.release()
        if kind is RecursionError and "while differentiating" not in str(error):
            raise RecursionError(
                f"{error} while differentiating: differentiated code needs about "
                f"{FRAMES_PER_LEVEL} times the frames of the code itself, and it was given "
                f"{FRAMES_PER_LEVEL} x {limit}; raise the limit with sys.setrecursionlimit (or "
                "recurse less deeply: a loop differentiates in constant depth)"
            ) from error


_ROOM = _Room()


def room_to_recurse() -> _Room:
    """A context manager that raises the recursion limit for differentiated code (re-entrant).

    Example:
        >>> import sys
        >>> before = sys.getrecursionlimit()
        >>> with room_to_recurse():
        ...     sys.getrecursionlimit() == FRAMES_PER_LEVEL * before
        True
        >>> sys.getrecursionlimit() == before
        True
    """
    return _ROOM
