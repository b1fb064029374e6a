"""The blocks lent to insight passes and kept for the next question."""

from __future__ import annotations

import gc

import numpy as np

from sextant.insights import allocation


def test_lent_memory_is_kept_up_to_a_limit_largest_first() -> None:
    buffers = allocation.Buffers(kept_bytes=100)
    small, large, too_large = buffers.take(40), buffers.take(60), buffers.take(200)
    for buffer in (small, too_large, large):
        buffers.give(buffer)
    assert buffers.take(50) is large and buffers.take(10) is small  # too_large was let go
    assert buffers.take(10) is not too_large


def test_a_lent_array_has_the_shape_and_type_asked_for_and_no_other_lent_array_shares_its_block() -> None:
    with allocation.lent((3, 4), np.dtype(np.int64)) as first:
        first[:] = 7
        assert first.shape == (3, 4) and first.dtype == np.int64
        with allocation.lent((3, 4), np.dtype(np.int64)) as second:
            assert not np.shares_memory(first, second)
    with allocation.lent((2,), np.dtype(np.int32)) as again:
        assert again.shape == (2,) and again.dtype == np.int32


def test_a_kept_array_gives_its_block_back_only_when_it_and_every_view_of_it_are_gone() -> None:
    buffers = allocation.Buffers(kept_bytes=1000)
    array = buffers.kept((10, 4), np.dtype(np.int64))
    assert array.shape == (10, 4) and array.dtype == np.int64
    address = array.ctypes.data
    array[:] = np.arange(40).reshape(10, 4)
    rows = array[3:5]  # a view that outlives the array it was taken from
    del array
    gc.collect()
    assert buffers.take(320).ctypes.data != address  # the block is still in use
    assert rows.tolist() == [[12, 13, 14, 15], [16, 17, 18, 19]]
    del rows
    gc.collect()
    assert buffers.take(320).ctypes.data == address  # given back with the last view
