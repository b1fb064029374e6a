"""The per-actor pass of the funnel: from each entry event, how far an attempt gets within the window, and
when it first reaches each step.

The rules (docs/insights.md, "Funnels"):
- Events with equal timestamps form a group. Events of one group may fill consecutive steps in any
  arrangement; each event fills at most one step. A step's time is the earliest time any chain reaches it.
- `ordered`: later steps come at the same time or later. `strict`: also, no other event of the actor happens
  strictly between two consecutive steps. `any`: the steps may come in any order within the window.
- An attempt is excluded when an exclusion event happens strictly after its `from_step` and before its
  `to_step` (or, when that step is never reached, before the window ends).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FunnelEvent:
    steps: int  # bit k: the event matches step k
    exclusions: int  # bit j: the event matches exclusion j
    value: str | None  # the breakdown value on this event


@dataclass(frozen=True)
class Group:
    time: int  # microseconds since the epoch
    events: tuple[FunnelEvent, ...]


@dataclass(frozen=True)
class Exclusion:
    from_step: int
    to_step: int


@dataclass(frozen=True)
class Attempt:
    entry_time: int
    reached: tuple[int, ...]  # the earliest time of each step reached, from step 0
    excluded: bool
    values: tuple[str | None, ...]  # per reached step: the smallest breakdown value among the events that
    # match the step at its earliest time (the entry event's own value for step 0)


def attempts(
    groups: Sequence[Group],
    step_count: int,
    window: int,
    order: str,
    exclusions: Sequence[Exclusion],
    entry_from: int,
    entry_to: int,
) -> list[Attempt]:
    """Every attempt of one actor: one per event that can enter the funnel in [entry_from, entry_to)."""
    found = []
    for start, group in enumerate(groups):
        if not entry_from <= group.time < entry_to:
            continue
        for position, entry in enumerate(group.events):
            if entry.steps & 1 or (order == "any" and entry.steps):
                found.append(_attempt(groups, start, position, step_count, window, order, exclusions))
    return found


def _attempt(
    groups: Sequence[Group],
    start: int,
    position: int,
    step_count: int,
    window: int,
    order: str,
    exclusions: Sequence[Exclusion],
) -> Attempt:
    entry_group = groups[start]
    entry = entry_group.events[position]
    deadline = entry_group.time + window
    if order == "any":
        return _any_order(groups, start, position, step_count, deadline)
    earliest: list[int] = [entry_group.time]
    others = entry_group.events[:position] + entry_group.events[position + 1 :]
    advance = max_advance(others, 1, step_count)
    earliest.extend([entry_group.time] * advance)
    states = set(range(1, 2 + advance))
    excluded = False
    for group in groups[start + 1 :]:
        # A broken strict chain reaches no further step, but exclusions still count until the window ends.
        if group.time > deadline or (not states and not exclusions):
            break
        following: set[int] = set()
        for state in states:
            if state == step_count:
                following.add(state)
                continue
            reach = max_advance(group.events, state, step_count)
            if reach == 0 and order == "ordered":
                following.add(state)
            following.update(range(state + 1, state + reach + 1))
        for state in following:
            if state > len(earliest):
                earliest.extend([group.time] * (state - len(earliest)))
        states = following
        if _excluded_by(group, exclusions, earliest):
            excluded = True
            break
    return Attempt(
        entry_time=entry_group.time,
        reached=tuple(earliest),
        excluded=excluded,
        values=_values(groups, start, entry, earliest),
    )


def _excluded_by(group: Group, exclusions: Sequence[Exclusion], earliest: list[int]) -> bool:
    mask = 0
    for event in group.events:
        mask |= event.exclusions
    for index, exclusion in enumerate(exclusions):
        started = exclusion.from_step < len(earliest) and earliest[exclusion.from_step] < group.time
        if mask >> index & 1 and started and exclusion.to_step >= len(earliest):
            return True
    return False


def _any_order(groups: Sequence[Group], start: int, position: int, step_count: int, deadline: int) -> Attempt:
    """Steps in any order: step k counts once steps 0..k each have their own event within the window."""
    entry_group = groups[start]
    pool: list[FunnelEvent] = []
    earliest: list[int] = []
    for index, group in enumerate(groups[start:], start=start):
        if group.time > deadline:
            break
        events = group.events
        if index == start:  # the entry itself comes first, so attempts differ only by their entry
            events = (events[position], *events[:position], *events[position + 1 :])
        pool.extend(events)
        reach = max_advance(tuple(pool), 0, step_count)
        if reach > len(earliest):
            earliest.extend([group.time] * (reach - len(earliest)))
        if len(earliest) == step_count:
            break
    entry = entry_group.events[position]
    return Attempt(entry_group.time, tuple(earliest), False, _values(groups, start, entry, earliest))


def _values(groups: Sequence[Group], start: int, entry: FunnelEvent, earliest: list[int]) -> tuple[str | None, ...]:
    values: list[str | None] = [entry.value]
    by_time = {group.time: group for group in groups[start:]}
    for step in range(1, len(earliest)):
        candidates = [event.value for event in by_time[earliest[step]].events if event.steps >> step & 1]
        present = [value for value in candidates if value is not None]
        values.append(min(present) if present else None)
    return tuple(values)


def max_advance(events: Sequence[FunnelEvent], first_step: int, step_count: int) -> int:
    """How many consecutive steps from `first_step` distinct events of `events` can fill."""
    if len(events) == 1:
        return 1 if first_step < step_count and events[0].steps >> first_step & 1 else 0
    owner: dict[int, int] = {}  # event index -> the step it fills

    def assign(step: int, seen: set[int]) -> bool:
        # Kuhn's augmenting path: give `step` an event, moving earlier assignments if needed.
        for index, event in enumerate(events):
            if event.steps >> step & 1 and index not in seen:
                seen.add(index)
                if index not in owner or assign(owner[index], seen):
                    owner[index] = step
                    return True
        return False

    reached = 0
    for step in range(first_step, step_count):
        if not assign(step, set()):
            break
        reached += 1
    return reached
