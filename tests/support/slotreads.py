"""A spy on the slot files the store reads, for the tests of the patterns it keeps in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chronus_tui import store as store_module


def spy_reads(monkeypatch: pytest.MonkeyPatch, *, settled_now: bool = True) -> list[Path]:
    """The files the store reads from now on, in order. With `settled_now`, a file counts as
    settled as soon as it is written (store.SETTLED_NS 0), so a test need not wait 2 s
    before the store keeps what it read."""
    reads: list[Path] = []
    read = store_module._read_pattern

    def counted(path: Path, *args: Any, **kwargs: Any) -> Any:
        reads.append(Path(path))
        return read(path, *args, **kwargs)

    monkeypatch.setattr(store_module, "_read_pattern", counted)
    if settled_now:
        monkeypatch.setattr(store_module, "SETTLED_NS", 0)
    return reads
