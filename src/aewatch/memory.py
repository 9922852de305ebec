"""Memory a large file leaves behind, handed back to the operating system.

A daemon that ingests a 150,000-row export grows from about 130 MB to over 400 MB and,
left alone, stays there: Python, pandas and Arrow keep freed memory for reuse, and each
pooled SQLite connection keeps up to 64 MiB of page cache (``aewatch.db``). The worker
calls ``give_back`` after a cycle that ingested many rows; small files, the usual case,
leave too little behind to be worth the reconnect.
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

LARGE_CYCLE_ROWS = 20_000  # rows ingested in one cycle after which memory is given back


def use_trimmable_arrow_pool() -> None:
    """Arrow allocates from the C library's malloc (which ``malloc_trim`` can shrink)
    rather than its own mimalloc/jemalloc pool, which keeps what it frees. Process-wide:
    the daemon calls it once at start."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def give_back(engine: Engine | None) -> None:
    """Free what the last files left: unreachable objects, idle pooled connections (and
    their page caches; the next session reconnects), Arrow's unused pool and the C
    library's free heap (glibc only; elsewhere that step does nothing)."""
    gc.collect()
    if engine is not None:
        engine.dispose()  # checked-out connections are left alone
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)
