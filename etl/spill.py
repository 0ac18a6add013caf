"""Frames kept in memory-mapped Arrow files instead of the process's heap.

A full run at ten million lines holds the core's document tables and every fact it has
built until the publish; on the heap that is 10–12 GiB. A run's ``Spill`` writes each of
those frames, as soon as it is made, to an uncompressed Arrow IPC file in the run's own
folder (``<mart_dir>/.tmp-<batch_id>.spill/``) and hands back a frame whose buffers are
mapped from that file (``mapped``): the same values, read by the same code, but held in the
operating system's file cache, which is written back and dropped under memory pressure
instead of counting against the process. The folder is removed when the run ends; after a
crash the next run sweeps it with the other staging leftovers (``etl.batch_folder.sweep``).

A ``Spill`` also knows which of its files hold each frame it handed out (``files_of``), so
that a published run's tables can be kept as they are for the next run (``etl.prior``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import cast

import polars as pl
import pyarrow as pa

from etl.batch_folder import SPILL_SUFFIX, STAGING_PREFIX


def mapped(path: Path) -> pl.DataFrame:
    """The frame of an uncompressed Arrow IPC file, its buffers memory-mapped from the file
    (no copy: pages are read when touched and shared with every process mapping it)."""
    table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    return cast(pl.DataFrame, pl.from_arrow(table, rechunk=False))


def trim_heap() -> None:
    """Give the C heap's free pages back to the operating system (glibc ``malloc_trim``).
    What the database drivers allocated for an extract and freed stays with the process
    otherwise: at 10M lines ~0.8 GiB kept through every later stage. Does nothing where the
    C library has no ``malloc_trim``."""
    libc = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
    if trim is not None:
        trim(0)


class Spill:
    """One run's spill folder; use as a context manager (the folder is removed on exit)."""

    def __init__(self, parquet_dir: Path, batch_id: str) -> None:
        self.folder = parquet_dir / f"{STAGING_PREFIX}{batch_id}{SPILL_SUFFIX}"
        self._files: dict[int, tuple[weakref.ref[pl.DataFrame], tuple[Path, ...]]] = {}

    def __enter__(self) -> Spill:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def keep(self, name: str, frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """``frame`` written as ``<name>.arrow`` and mapped back — a query's rows streamed
        into the file, never all in memory; ``ValueError`` if the mapped frame's schema
        differs (a type the round trip does not keep)."""
        path = self.folder / f"{name}.arrow"
        if isinstance(frame, pl.LazyFrame):
            frame.sink_ipc(path, compression="uncompressed")
        else:
            frame.write_ipc(path, compression="uncompressed")
        kept = mapped(path)
        if kept.schema != frame.collect_schema():
            raise ValueError(f"{name}: spilled as {kept.schema}, not {frame.collect_schema()}")
        return self._held(kept, (path,))

    def keep_patch(self, name: str, frame: pl.DataFrame, before: pl.DataFrame,
                   rows: pl.Series, slice_rows: int) -> pl.DataFrame:
        """``frame`` — ``before`` with the values of its rows at the positions ``rows``
        (ascending) changed in place (``etl.increment.patched``) — held by files: each file
        of ``before`` that holds none of those rows as it is, the rows of every other one
        written anew in slices of ``slice_rows`` (``<name>.<n>.<first row>.arrow``). So a
        few changed rows cost a slice of the table, not the whole table (at 10M lines one
        disputed invoice wrote all 5.5M AR items). Written whole (``keep``) when ``before``
        is not held by files."""
        files = self.files_of(before)
        if not files:
            return self.keep(name, frame)
        pieces, start = [], 0
        for path in files:
            piece = self.adopt((path,))
            end = start + piece.height
            if rows.search_sorted(start) == rows.search_sorted(end):  # none of the rows
                pieces.append(piece)
            else:
                pieces += [self.keep(f"{name}.{len(pieces)}.{at}",
                                     frame.slice(at, min(slice_rows, end - at)))
                           for at in range(start, end, slice_rows)]
            start = end
        if start != frame.height:
            raise ValueError(f"{name}: {frame.height} rows, but its files hold {start}")
        return self.joined(pieces)

    def joined(self, frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
        """``frames`` one after the other without a copy (``pl.concat``, not rechunked),
        held by their files together when this spill knows the files of each."""
        whole = pl.concat(frames, rechunk=False)
        parts = [self.files_of(frame) for frame in frames]
        if any(files is None for files in parts):
            return whole
        return self._held(whole, tuple(path for files in parts for path in files or ()))

    def adopt(self, files: Sequence[Path]) -> pl.DataFrame:
        """The frame of ``files`` outside this spill (a previous run's tables), one after the
        other, mapped (``mapped``) and recorded as held by them; raises what mapping raises
        for a missing or damaged file (``OSError``, ``pyarrow.ArrowInvalid``, a Polars
        error)."""
        frame = pl.concat([mapped(path) for path in files], rechunk=False)
        return self._held(frame, tuple(files))

    def files_of(self, frame: pl.DataFrame) -> tuple[Path, ...] | None:
        """The files that hold ``frame``, in order, if it came from this spill (``keep``,
        ``joined``, ``adopt``); None otherwise (a frame on the heap)."""
        held = self._files.get(id(frame))
        return held[1] if held is not None and held[0]() is frame else None

    def _held(self, frame: pl.DataFrame, files: tuple[Path, ...]) -> pl.DataFrame:
        self._files[id(frame)] = (weakref.ref(frame), files)
        return frame

    def discard(self, name: str) -> None:
        """Remove ``<name>.arrow``: its disk space is freed once no frame maps it (the
        frames it held are no longer known as held by files)."""
        path = self.folder / f"{name}.arrow"
        path.unlink(missing_ok=True)
        self._files = {key: held for key, held in self._files.items()
                       if path not in held[1] and held[0]() is not None}
