"""A memory limit the kernel enforces on a benchmark's process: a cgroup of its own.

Everything the process holds is charged to the cgroup: its anonymous memory and the file
pages it reads or writes (the ETL's spilled, memory-mapped frames among them). Under the
limit the kernel writes back and drops file pages; anonymous memory past it ends in the
OOM killer. So "the run finished under a 4 GiB limit" is the measure of its memory, not
its resident set, which counts mapped file pages the kernel could drop at any time.
Needs root and a writable cgroup file system (v1 ``memory`` controller or v2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_V1 = {"limit": "memory.limit_in_bytes", "peak": "memory.max_usage_in_bytes"}
_V2 = {"limit": "memory.max", "peak": "memory.peak"}


@dataclass(frozen=True)
class MemoryLimit:
    """A cgroup ``name`` limited to ``gib`` GiB: ``create`` it, ``enter`` it from the
    process to limit (its children follow), ``report`` after the run."""

    gib: float
    name: str = "salesbi-bench"

    @property
    def _v2(self) -> bool:
        return (ROOT / "cgroup.controllers").exists()

    @property
    def folder(self) -> Path:
        return ROOT / self.name if self._v2 else ROOT / "memory" / self.name

    def _file(self, key: str) -> Path:
        return self.folder / (_V2 if self._v2 else _V1)[key]

    def create(self) -> None:
        """Create the cgroup afresh (its counters at zero) with the limit;
        ``PermissionError`` or ``FileNotFoundError`` when cgroups cannot be written here."""
        if self.folder.exists():
            self.folder.rmdir()  # a cgroup without processes: its files go with it
        self.folder.mkdir()
        self._file("limit").write_text(str(int(self.gib * 2**30)))

    def enter(self) -> None:
        """Move the calling process into the cgroup."""
        (self.folder / "cgroup.procs").write_text(str(os.getpid()))

    def report(self) -> dict[str, object]:
        """The limit, the peak charged to the cgroup (MiB) and how often the OOM killer
        ran in it."""
        if self._v2:
            events = dict(line.split() for line in
                          (self.folder / "memory.events").read_text().splitlines())
            kills = int(events.get("oom_kill", 0))
        else:
            control = dict(line.split() for line in
                           (self.folder / "memory.oom_control").read_text().splitlines())
            kills = int(control.get("oom_kill", 0))
        return {"limit_gib": self.gib,
                "peak_charged_mib": int(self._file("peak").read_text()) >> 20,
                "oom_kills": kills}
