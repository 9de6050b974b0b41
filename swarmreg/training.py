"""What every trainer shares: the pieces of ``fit`` that are not the algorithm."""

from __future__ import annotations

import functools

__all__ = ["retired_keywords"]


def retired_keywords(**messages):
    """Make ``__init__`` refuse retired keyword arguments with a ValueError.

    ``@retired_keywords(old="why, and what to use instead")`` keeps the
    decorated signature as it is (``inspect.signature`` follows the wrapper to
    it), so the retired names never show up as settings.
    """
    def decorate(init):
        @functools.wraps(init)
        def checked(self, *args, **kwargs):
            for name in messages:
                if name in kwargs:
                    raise ValueError(f"{type(self).__name__}({name}=...) is not a setting: {messages[name]}")
            return init(self, *args, **kwargs)
        return checked
    return decorate
