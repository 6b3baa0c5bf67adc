"""One compiled-template cache for every Jinja environment (report, mail, dashboard).

Jinja compiles each template to Python the first time a process renders it: about 0.3 s for the report's
templates, paid again by every ``voxpop report`` run. The cache keeps the compiled code on disk between
processes (keyed by the template's source, so an edited template recompiles).
"""

from __future__ import annotations

import logging
from functools import lru_cache

from jinja2 import BytecodeCache, FileSystemBytecodeCache

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def bytecode_cache() -> BytecodeCache | None:
    """Jinja's cache in the user's private temporary folder, or None where it cannot be made safely."""
    try:
        return FileSystemBytecodeCache()  # a 0700 folder of this user under the temp dir, checked by Jinja
    except (OSError, RuntimeError) as exc:  # no private folder: templates compile in memory, as before
        log.info("template cache off: %s", exc)
        return None
