"""The dashboard grid: moves jump over tiles in the way, resizes push tiles down, nothing ever overlaps."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from sextant.content.layout import COLUMNS, Box, arrange, below, fit, move, place, resize

A = Box(1, 0, 0, 6, 4)
B = Box(2, 6, 0, 6, 4)
C = Box(3, 0, 4, 12, 2)


def positions(boxes: list[Box]) -> dict[int, tuple[int, int, int, int]]:
    return {box.id: (box.x, box.y, box.w, box.h) for box in boxes}


def test_moving_up_past_a_tile_trades_places_with_it() -> None:
    assert positions(move([A, B, C], 3, "up")) == {3: (0, 0, 12, 2), 1: (0, 2, 6, 4), 2: (6, 2, 6, 4)}


def test_moving_down_past_a_tile_goes_below_it_and_empty_rows_close() -> None:
    assert positions(move([A, B, C], 1, "down")) == {2: (6, 0, 6, 4), 3: (0, 4, 12, 2), 1: (0, 6, 6, 4)}


def test_moving_sideways_into_a_tile_swaps_their_columns() -> None:
    assert positions(move([A, B, C], 1, "right")) == {2: (0, 0, 6, 4), 1: (6, 0, 6, 4), 3: (0, 4, 12, 2)}
    assert positions(move([A, B, C], 1, "left")) == positions([A, B, C])  # already at the left edge


def test_moving_into_free_space_moves_one_cell() -> None:
    narrow = Box(1, 0, 0, 4, 2)
    assert positions(move([narrow], 1, "right")) == {1: (1, 0, 4, 2)}


def test_growing_a_tile_pushes_the_ones_below_and_sizes_stay_in_the_grid() -> None:
    assert positions(resize([A, B, C], 1, 0, 2)) == {1: (0, 0, 6, 6), 2: (6, 0, 6, 4), 3: (0, 6, 12, 2)}
    # Wider than the room to its right: it moves left, and the tile it now covers goes below it.
    assert positions(resize([A, B, C], 2, 5, 0)) == {2: (1, 0, 11, 4), 1: (0, 4, 6, 4), 3: (0, 8, 12, 2)}
    assert fit(Box(1, 3, -2, 0, 40)) == Box(1, 3, 0, 1, 12)


def test_new_tiles_go_below_everything() -> None:
    assert below([A, B, C]) == 6 and below([]) == 0


boxes = st.lists(
    st.builds(Box, st.just(0), st.integers(0, COLUMNS - 1), st.integers(0, 20), st.integers(1, 12), st.integers(1, 6)),
    min_size=1,
    max_size=8,
).map(
    lambda found: arrange(
        [fit(Box(index + 1, b.x, b.y, b.w, b.h)) for index, b in enumerate(found)],
        fit(Box(1, found[0].x, found[0].y, found[0].w, found[0].h)),
    )
)


@given(boxes, st.sampled_from(["up", "down", "left", "right", "wider", "taller", "place"]), st.data())
def test_no_change_makes_tiles_overlap_or_leave_the_grid(start: list[Box], change: str, data: st.DataObject) -> None:
    chosen = data.draw(st.sampled_from(start)).id
    if change == "wider":
        after = resize(start, chosen, 3, 0)
    elif change == "taller":
        after = resize(start, chosen, 0, 2)
    elif change == "place":
        after = place(start, Box(chosen, data.draw(st.integers(-2, 14)), data.draw(st.integers(0, 9)), 5, 3))
    else:
        after = move(start, chosen, change)  # type: ignore[arg-type]
    assert sorted(box.id for box in after) == sorted(box.id for box in start)
    for first, second in itertools.combinations(after, 2):
        assert not first.overlaps(second), (first, second)
    assert all(box.x >= 0 and box.x + box.w <= COLUMNS and box.y >= 0 for box in after)
