"""The spool: durable records kept in local files while the database cannot take them.

Append-only JSON lines in numbered segment files under ``<data dir>/spool/``, each append
flushed and fsynced before it returns, so what the writer acknowledged from here survives a
crash as surely as a commit. The writer replays segments oldest first once the database is
back and deletes each after its records are committed; records are idempotent (upserts, and
status rows unique per agent, time and status), so a segment replayed twice after a crash
between commit and delete writes nothing twice.

A line torn by a crash mid-append (no newline at the end of the last segment) is ignored on
replay: its append never returned, so nobody was told it was saved.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from visionflow.store.records import Durable, decode, encode

__all__ = ["Spool"]

_SUFFIX = ".jsonl"


class Spool:
    """Numbered segment files of spooled records; used from the writer's thread only.

    Appends go to the open segment; ``oldest()`` seals it when nothing older is left, so that
    records appended during a replay land in a new segment and are replayed after it.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._records = 0
        self._bytes = 0
        self._sealed = self._existing()
        self._open: Path | None = None
        self._next = int(self._sealed[-1].stem) + 1 if self._sealed else 1
        for path in self._sealed:
            self._bytes += path.stat().st_size
            self._records += sum(1 for _ in self._lines(path))

    def _existing(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.suffix == _SUFFIX and p.stem.isdigit())

    def __len__(self) -> int:
        """Records waiting in the spool."""
        return self._records

    def __bool__(self) -> bool:
        return self._records > 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def append(self, records: Iterable[Durable]) -> int:
        """Write ``records`` to the open segment and fsync it; returns how many were written."""
        data = b"".join(encode(r) + b"\n" for r in records)
        if not data:
            return 0
        new = self._open is None
        if self._open is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._open = self.directory / f"{self._next:012d}{_SUFFIX}"
            self._next += 1
        with self._open.open("ab") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if new:
            self._fsync_directory()  # a new file: make its directory entry durable too
        written = data.count(b"\n")
        self._records += written
        self._bytes += len(data)
        return written

    def oldest(self) -> Path | None:
        """The oldest segment to replay (sealing the open one if it is all there is), or None."""
        if not self._sealed and self._open is not None:
            self._sealed.append(self._open)
            self._open = None
        return self._sealed[0] if self._sealed else None

    def read(self, path: Path) -> list[Durable]:
        """The records of one segment (a torn last line is left out)."""
        return [decode(line) for line in self._lines(path)]

    @staticmethod
    def _lines(path: Path) -> Iterator[bytes]:
        if not path.exists():
            return
        data = path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        yield from (line for line in complete.split(b"\n") if line)

    def remove(self, path: Path) -> None:
        """Forget a sealed segment whose records are in the database."""
        if path.exists():
            self._records -= sum(1 for _ in self._lines(path))
            self._bytes -= path.stat().st_size
            path.unlink()
        if path in self._sealed:
            self._sealed.remove(path)

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
