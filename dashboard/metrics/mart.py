"""One published mart batch: read-only Polars frames by table name, in the process (DESIGN D3;
mapped from the batch's serving copy by ``dashboard.mart_reader``).

The metric layer reads only these frames; it never opens the core database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import polars as pl

K = TypeVar("K", bound=Hashable)
KEPT_PER_KIND = 32
"""Frames ``Mart.derive_each`` keeps per kind (the least recently used go first): room for
the ~20 moments the period presets ask for (``dashboard.batch_warmup``) and some custom
ones; at 10M lines a per-customer AR frame is ~3 MB."""


@dataclass(frozen=True)
class Mart:
    """The frames of batch ``batch_id`` (published at ``published_at``, naive UTC)."""

    batch_id: str
    published_at: datetime
    tables: Mapping[str, pl.DataFrame]
    # Per instance, never copied: a Mart made by ``dataclasses.replace`` (other tables)
    # derives its own frames.
    derived: dict[str, pl.DataFrame] = field(default_factory=dict, init=False,
                                             compare=False, repr=False)
    keyed: dict[str, OrderedDict[Hashable, pl.DataFrame]] = field(
        default_factory=dict, init=False, compare=False, repr=False)
    _locks: dict[str, threading.RLock] = field(default_factory=dict, init=False,
                                               compare=False, repr=False)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock, init=False,
                                         compare=False, repr=False)

    def _lock(self, name: str) -> threading.RLock:
        """The lock of one derived frame or kind: a request building one never holds up
        requests that need another."""
        with self._locks_guard:
            return self._locks.setdefault(name, threading.RLock())

    def derive(self, name: str, build: Callable[[Mart], pl.DataFrame]) -> pl.DataFrame:
        """``build(self)``, computed once per batch and process and kept with the batch: for
        frames that depend on the batch only, never on the request. Requests that ask at
        once wait for the one computing it (a build may derive others)."""
        found = self.derived.get(name)
        if found is None:
            with self._lock(name):
                found = self.derived.get(name)
                if found is None:
                    found = self.derived[name] = build(self)
        return found

    def derive_each(self, kind: str, keys: Sequence[K],
                    build: Callable[[Mart, list[K]], Sequence[pl.DataFrame]], *,
                    keep: int = KEPT_PER_KIND) -> list[pl.DataFrame]:
        """The frame of ``kind`` for each of ``keys``: for frames that depend on the batch and
        the key only, never on the request (AR as of a moment, of every customer). Those not
        kept come from one ``build(self, missing keys)`` (a frame per key, in order) and are
        kept with the batch, the ``keep`` latest used of each kind."""
        with self._lock(f"each:{kind}"):
            kept = self.keyed.setdefault(kind, OrderedDict())
            missing = list(dict.fromkeys(key for key in keys if key not in kept))
            if missing:
                kept.update(zip(missing, build(self, missing), strict=True))
            frames = self._used(kept, keys)
            while len(kept) > keep:
                kept.popitem(last=False)
            return frames

    def kept_each(self, kind: str, keys: Sequence[K]) -> list[pl.DataFrame] | None:
        """``derive_each``'s frames when every one of ``keys`` is kept, else None (the caller
        computes what it needs itself, without keeping it); None too while another request
        builds frames of ``kind``, rather than waiting for it."""
        lock = self._lock(f"each:{kind}")
        if not lock.acquire(blocking=False):
            return None
        try:
            kept = self.keyed.get(kind)
            if kept is None or any(key not in kept for key in keys):
                return None
            return self._used(kept, keys)
        finally:
            lock.release()

    @staticmethod
    def _used(kept: OrderedDict[Hashable, pl.DataFrame],
              keys: Sequence[K]) -> list[pl.DataFrame]:
        """The frames of ``keys``, marked as the latest used."""
        frames = [kept[key] for key in keys]
        for key in keys:
            kept.move_to_end(key)
        return frames

    def lazy(self, name: str) -> pl.LazyFrame:
        """Table ``name`` as a lazy frame (a missing table is a programming error)."""
        return self.tables[name].lazy()

    def frame(self, name: str) -> pl.DataFrame:
        return self.tables[name]
