"""Resource bounds: refuse work up front when its memory estimate exceeds a limit.

The limit is ``FLOWALIGN_MEMORY_LIMIT`` (bytes, or a number with a ``K``/``M``/``G``/``T`` suffix)
or, by default, half of the machine's physical memory.
"""

from __future__ import annotations

import os
import re

MEMORY_LIMIT_ENV = "FLOWALIGN_MEMORY_LIMIT"
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class ResourceLimitError(MemoryError):
    """Work whose estimated memory exceeds the configured limit; raised before anything is allocated."""


def memory_limit() -> int:
    """The memory limit in bytes (see the module docstring)."""
    text = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not text:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?", text, flags=re.IGNORECASE)
    if not match:
        raise ValueError(f"{MEMORY_LIMIT_ENV}={text!r} is not a size; use bytes or a number with K, M, G or T (e.g. 8G)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def check_memory(estimate_bytes: float, what: str, advice: str) -> None:
    """Raise :class:`ResourceLimitError` if ``estimate_bytes`` exceeds :func:`memory_limit`."""
    limit = memory_limit()
    if estimate_bytes > limit:
        raise ResourceLimitError(
            f"{what} needs about {format_bytes(estimate_bytes)}, over the limit of {format_bytes(limit)} "
            f"({MEMORY_LIMIT_ENV}); {advice}"
        )


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
