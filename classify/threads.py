"""Size torch's thread pool to this worker's share of the machine.

Two classify workers on one machine each start with as many torch threads as there are cores, and
then fight over them (on 2 cores, two workers classified at half the rate of one). A worker
registers itself in a per-user runtime folder (one file per process, named by role and pid) and
takes ``cores // live workers of its role`` threads, rechecked before every batch so that the
first worker gives threads back when a second one starts and takes them again when it leaves.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def runtime_dir() -> Path:
    """Where local workers register (``$VOXPOP_RUNTIME_DIR``, else a per-user folder in the temp dir)."""
    base = os.environ.get("VOXPOP_RUNTIME_DIR") or os.path.join(tempfile.gettempdir(), f"voxpop-{os.getuid()}")
    path = Path(base) / "workers"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ThreadShare:
    """This process's registration as a local worker of ``role`` and its thread count.

    Args:
        role: the worker role (workers of other roles do not count).
        threads: a fixed count (``--threads``); None shares the cores among live local workers.
    """

    def __init__(self, role: str, threads: int | None = None) -> None:
        self.role = role
        self.fixed = threads
        self.file = runtime_dir() / f"{role}-{os.getpid()}"
        self.file.write_text(str(os.getpid()))
        self.current: int | None = None

    def local_workers(self) -> int:
        """Live local workers of this role, this one included (files of dead processes are removed)."""
        count = 0
        for entry in runtime_dir().glob(f"{self.role}-*"):
            try:
                pid = int(entry.name.rsplit("-", 1)[1])
            except ValueError:
                continue
            if _alive(pid):
                count += 1
            else:
                entry.unlink(missing_ok=True)
        return max(1, count)

    def threads(self) -> int:
        """The thread count to use now."""
        if self.fixed:
            return self.fixed
        return max(1, cores() // self.local_workers())

    def apply(self) -> int:
        """Set torch's intra-op threads to :meth:`threads` (when it changed); returns the count."""
        wanted = self.threads()
        if wanted != self.current:
            import torch

            torch.set_num_threads(wanted)
            self.current = wanted
        return wanted

    def close(self) -> None:
        """Leave the registry."""
        self.file.unlink(missing_ok=True)
