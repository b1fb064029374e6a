"""The dashboard grid: 12 columns, tiles at (x, y) w columns wide and h rows high. Moving or resizing a
tile pushes the tiles it would cover down, so tiles never overlap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

COLUMNS = 12
MAX_HEIGHT = 12
Direction = Literal["up", "down", "left", "right"]


@dataclass(frozen=True)
class Box:
    id: int
    x: int
    y: int
    w: int
    h: int

    def overlaps(self, other: Box) -> bool:
        return (
            self.x < other.x + other.w
            and other.x < self.x + self.w
            and self.y < other.y + other.h
            and other.y < self.y + self.h
        )


def fit(box: Box) -> Box:
    """The box clamped into the grid: 1-12 columns wide, 1-12 rows high, inside the columns, not above row 0."""
    w = min(max(box.w, 1), COLUMNS)
    h = min(max(box.h, 1), MAX_HEIGHT)
    return Box(box.id, min(max(box.x, 0), COLUMNS - w), max(box.y, 0), w, h)


def move(boxes: Sequence[Box], box_id: int, direction: Direction) -> list[Box]:
    """Move a box one cell; a box in the way is jumped over (moving up past a box puts the moved one above
    it, so two boxes trade places)."""
    box = _find(boxes, box_id)
    dx, dy = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}[direction]
    step = fit(replace(box, x=box.x + dx, y=box.y + dy))
    blockers = [other for other in boxes if other.id != box_id and step.overlaps(other)]
    if blockers:
        if direction == "up":
            step = replace(step, y=min(other.y for other in blockers))
        elif direction == "down":
            step = replace(step, y=max(other.y + other.h for other in blockers))
        elif direction == "left":
            step = fit(replace(step, x=min(other.x for other in blockers)))
        else:
            step = fit(replace(step, x=max(other.x + other.w for other in blockers) - step.w))
        if direction in ("left", "right"):
            boxes = _swapped_sideways(boxes, box, step, blockers)
    return arrange(boxes, step)


def _swapped_sideways(boxes: Sequence[Box], box: Box, step: Box, blockers: list[Box]) -> list[Box]:
    """Boxes in the way of a sideways move take the moved box's old columns when they fit there."""
    result = list(boxes)
    for blocker in blockers:
        target = fit(replace(blocker, x=box.x if step.x > box.x else box.x + box.w - blocker.w))
        others = [other for other in result if other.id not in (blocker.id, box.id)]
        if not target.overlaps(step) and not any(target.overlaps(other) for other in others):
            result = [target if other.id == blocker.id else other for other in result]
    return result


def resize(boxes: Sequence[Box], box_id: int, width_change: int, height_change: int) -> list[Box]:
    box = _find(boxes, box_id)
    return arrange(boxes, fit(replace(box, w=box.w + width_change, h=box.h + height_change)))


def place(boxes: Sequence[Box], box: Box) -> list[Box]:
    """Put a box at a position and size (as dragging it would)."""
    _find(boxes, box.id)
    return arrange(boxes, fit(box))


def arrange(boxes: Sequence[Box], changed: Box) -> list[Box]:
    """Every box after `changed` took its new place: the others keep theirs unless they would overlap a box
    already placed, in which case they go down just below it (top to bottom, so pushes cascade). Rows that
    end up empty are removed."""
    placed = [changed]
    for box in sorted((box for box in boxes if box.id != changed.id), key=lambda box: (box.y, box.x, box.id)):
        while blockers := [other for other in placed if box.overlaps(other)]:
            box = replace(box, y=max(other.y + other.h for other in blockers))
        placed.append(box)
    return sorted(_without_empty_rows(placed), key=lambda box: (box.y, box.x, box.id))


def _without_empty_rows(boxes: list[Box]) -> list[Box]:
    used = {row for box in boxes for row in range(box.y, box.y + box.h)}
    empty = sorted(set(range(max(used, default=-1) + 1)) - used)
    return [replace(box, y=box.y - sum(1 for row in empty if row < box.y)) for box in boxes]


def _find(boxes: Sequence[Box], box_id: int) -> Box:
    return next(box for box in boxes if box.id == box_id)


def below(boxes: Sequence[Box]) -> int:
    """The first free row under every box: where a new tile goes."""
    return max((box.y + box.h for box in boxes), default=0)
