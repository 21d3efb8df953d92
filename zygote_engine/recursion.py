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
from contextlib import contextmanager

__all__ = ["FRAMES_PER_LEVEL", "room_to_recurse"]

FRAMES_PER_LEVEL = 4

_lock = threading.Lock()
_active = 0
_user_limit = 0


@contextmanager
def room_to_recurse():
    """Run the body with the recursion limit raised for differentiated code (re-entrant).

    Example:
        >>> import sys
        >>> before = sys.getrecursionlimit()
        >>> with room_to_recurse():
        ...     sys.getrecursionlimit() == FRAMES_PER_LEVEL * before
        True
        >>> sys.getrecursionlimit() == before
        True
    """
    global _active, _user_limit
    with _lock:
        if _active == 0:
            _user_limit = sys.getrecursionlimit()
            sys.setrecursionlimit(FRAMES_PER_LEVEL * _user_limit)
        _active += 1
    try:
        yield
    except RecursionError as error:
        raise RecursionError(
            f"{error} while differentiating: differentiated code needs about {FRAMES_PER_LEVEL} "
            f"times the frames of the code itself, and it was given {FRAMES_PER_LEVEL} x "
            f"{_user_limit}; raise the limit with sys.setrecursionlimit (or recurse less deeply: "
            "a loop differentiates in constant depth)"
        ) from error
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                sys.setrecursionlimit(_user_limit)
