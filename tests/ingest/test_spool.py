"""The spool keeps acknowledged batches across crashes, and drops only a torn, unacknowledged tail."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from sextant.ingest import spool as spool_module
from sextant.ingest.spool import Spool


def batch(*values: int) -> pa.Table:
    return pa.table({"n": pa.array(values, pa.int64())})


def test_records_survive_reopening_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, next_sequence=1)
    assert [spool.append(batch(1)), spool.append(batch(2, 3))] == [1, 2]
    spool.close()
    reopened = Spool(tmp_path, next_sequence=1)
    assert reopened.next_sequence == 3
    assert [(sequence, table.column("n").to_pylist()) for sequence, table in reopened.records(after=0)] == [
        (1, [1]),
        (2, [2, 3]),
    ]
    assert [sequence for sequence, _ in reopened.records(after=1)] == [2]


def test_a_torn_record_ends_its_segment_but_later_segments_replay(tmp_path: Path) -> None:
    spool = Spool(tmp_path, next_sequence=1)
    spool.append(batch(1))
    spool.append(batch(2))
    spool.close()
    segment = sorted(tmp_path.glob("*.spool"))[0]
    data = segment.read_bytes()
    segment.write_bytes(data[:-5])  # the crash cut the second record short: it was never acknowledged
    reopened = Spool(tmp_path, next_sequence=1)
    assert [sequence for sequence, _ in reopened.records(after=0)] == [1]
    assert reopened.append(batch(3)) == 2  # the torn record's number is reused; it was never acknowledged
    assert [sequence for sequence, _ in reopened.records(after=0)] == [1, 2]


def test_corrupted_records_are_not_replayed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, next_sequence=1)
    spool.append(batch(1))
    spool.close()
    segment = next(tmp_path.glob("*.spool"))
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))
    assert list(Spool(tmp_path, next_sequence=1).records(after=0)) == []


def test_released_segments_are_deleted(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(spool_module, "_SEGMENT_BYTES", 1)  # one record per segment
    spool = Spool(tmp_path, next_sequence=10)
    for value in range(4):
        spool.append(batch(value))
    assert len(list(tmp_path.glob("*.spool"))) == 4
    spool.release(through=11)
    assert [sequence for sequence, _ in spool.records(after=0)] == [12, 13]
    assert Spool(tmp_path, next_sequence=1).next_sequence == 14
