"""The on-disk spool: accepted events are appended and fsynced here before the client gets its 2xx.

Records are numbered. The writer stores the number of the last record whose events are in the warehouse
(`ingest_checkpoints`); after a crash the server replays the records after it. Each record is framed with
its length and a CRC, so a record torn by a crash (one that was never acknowledged) ends the replay.
"""

from __future__ import annotations

import itertools
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

_MAGIC = b"SXT1"
# magic, sequence number, payload length, CRC32 of the payload
_HEADER = struct.Struct("<4sQII")
_SEGMENT_BYTES = 64 * 1024 * 1024


class Spool:
    """An append-only log of Arrow batches in numbered segment files. Used by one thread at a time."""

    def __init__(self, directory: Path, next_sequence: int) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        last = max((sequence for sequence, _ in self._frames()), default=0)
        self.next_sequence = max(next_sequence, last + 1)
        self._file: int | None = None
        self._file_bytes = 0

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob("*.spool"))

    def append(self, batch: pa.Table) -> int:
        """Write one record durably (fsync) and return its sequence number."""
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_table(batch)
        payload = sink.getvalue().to_pybytes()
        sequence = self.next_sequence
        if self._file is None or self._file_bytes >= _SEGMENT_BYTES:
            self._open_segment(sequence)
        assert self._file is not None
        record = _HEADER.pack(_MAGIC, sequence, len(payload), zlib.crc32(payload)) + payload
        os.write(self._file, record)
        os.fsync(self._file)
        self._file_bytes += len(record)
        self.next_sequence += 1
        return sequence

    def _open_segment(self, first_sequence: int) -> None:
        if self._file is not None:
            os.close(self._file)
        path = self.directory / f"{first_sequence:020d}.spool"
        self._file = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file_bytes = 0
        # Make the new file's directory entry durable too.
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def records(self, after: int) -> Iterator[tuple[int, pa.Table]]:
        """Every intact record numbered above `after`, in order."""
        for sequence, payload in self._frames():
            if sequence > after:
                yield sequence, pa.ipc.open_stream(payload).read_all()

    def _frames(self) -> Iterator[tuple[int, bytes]]:
        for path in self._segments():
            with path.open("rb") as segment:
                while len(header := segment.read(_HEADER.size)) == _HEADER.size:
                    magic, sequence, length, crc = _HEADER.unpack(header)
                    payload = segment.read(length)
                    if magic != _MAGIC or len(payload) < length or zlib.crc32(payload) != crc:
                        break  # torn by a crash before it was acknowledged; later segments are intact
                    yield sequence, payload

    def release(self, through: int) -> None:
        """Delete segments whose records are all in the warehouse (numbered at most `through`)."""
        segments = self._segments()
        for path, following in itertools.pairwise(segments):
            if int(following.stem) - 1 <= through:
                path.unlink()

    @property
    def size_bytes(self) -> int:
        return sum(path.stat().st_size for path in self._segments())

    def close(self) -> None:
        if self._file is not None:
            os.close(self._file)
            self._file = None
