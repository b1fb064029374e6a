"""Paths: the sequences of events actors take forward from a start event or backward to an end event.

Each actor gives one path: from their first `start_event` in the range onward (or, backward, the events
leading to their last `end_event`; with neither, from their first event). Events at the same time are taken
in event-name order, then session order, so a path never depends on the order a database returns ties in.
`collapse_repeats` turns runs of one event into one step; `within_session` stops a path where its session
ends. The top K paths are shown, the rest as one `$other` line, with the step-to-step edges of every path
for a Sankey view.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, model_validator
from sqlglot import exp

from sextant.insights.runner import QueryRunner
from sextant.insights.scan import OTHER
from sextant.insights.spec import WithoutBreakdown


class PathsSpec(WithoutBreakdown):
    kind: Literal["paths"] = "paths"
    start_event: str | None = None
    end_event: str | None = None
    steps: int = Field(default=5, ge=2, le=20)
    events: list[str] | None = Field(default=None, description="only these events appear in paths; default all")
    collapse_repeats: bool = True
    within_session: bool = False
    top: int = Field(default=20, ge=1, le=500)

    @model_validator(mode="after")
    def _one_anchor(self) -> PathsSpec:
        if self.start_event and self.end_event:
            raise ValueError("give start_event (paths forward) or end_event (paths backward), not both")
        return self


class PathsRunner(QueryRunner):
    kind = "paths"
    spec_model = PathsSpec
    spec: PathsSpec

    def queries(self) -> dict[str, exp.Expr]:
        scan = self.scan()
        spec = self.spec
        names = spec.events
        wanted = None
        if names is not None:
            anchors = [name for name in (spec.start_event, spec.end_event) if name]
            wanted = exp.or_(*(scan.events_named(name) for name in sorted({*names, *anchors})))  # type: ignore[misc]
        columns = [
            scan.actor().as_("actor"),
            scan.timestamp().as_("time"),
            scan.event().as_("event"),
            exp.Coalesce(this=exp.column("session_id", "e"), expressions=[exp.Literal.string("")]).as_("session"),
        ]
        query = scan.select(*columns, dates=self.dates, where=[wanted, scan.condition(spec.filters)])
        # Ties of one event name at one time are taken in session order, so `within_session` follows the same one.
        return {"events": query.order_by("actor", "time", "event", "session")}

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        table = results["events"]
        by_actor: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for actor, event, session in zip(
            table.column("actor").to_pylist(),
            table.column("event").to_pylist(),
            table.column("session").to_pylist(),
            strict=True,
        ):
            by_actor[actor].append((event, session))
        paths: Counter[tuple[str, ...]] = Counter()
        for events in by_actor.values():
            path = self._path(events)
            if path:
                paths[path] += 1
        ranked = sorted(paths.items(), key=lambda item: (-item[1], item[0]))
        shown = [{"path": list(path), "actors": count} for path, count in ranked[: self.spec.top]]
        rest = sum(count for _, count in ranked[self.spec.top :])
        if rest:
            shown.append({"path": [OTHER], "actors": rest})
        edges: Counter[tuple[int, str, str]] = Counter()
        for path, count in paths.items():
            for index in range(len(path) - 1):
                edges[(index, path[index], path[index + 1])] += count
        return {
            "paths": shown,
            "actors": sum(paths.values()),
            "edges": [
                {"step": step, "source": source, "target": target, "actors": count}
                for (step, source, target), count in sorted(
                    edges.items(), key=lambda item: (item[0][0], -item[1], item[0])
                )
            ],
        }

    def _path(self, events: list[tuple[str, str]]) -> tuple[str, ...]:
        spec = self.spec
        if spec.end_event is not None:
            ends = [index for index, (event, _) in enumerate(events) if event == spec.end_event]
            if not ends:
                return ()
            chosen = list(reversed(events[: ends[-1] + 1]))
        elif spec.start_event is not None:
            starts = [index for index, (event, _) in enumerate(events) if event == spec.start_event]
            if not starts:
                return ()
            chosen = events[starts[0] :]
        else:
            chosen = events
        if spec.within_session:
            session = chosen[0][1]
            cut = next((index for index, (_, other) in enumerate(chosen) if other != session), len(chosen))
            chosen = chosen[:cut]
        steps: list[str] = []
        for event, _ in chosen:
            if spec.collapse_repeats and steps and steps[-1] == event:
                continue
            steps.append(event)
            if len(steps) == spec.steps:
                break
        return tuple(reversed(steps)) if spec.end_event is not None else tuple(steps)

    @staticmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"path": " → ".join(line["path"]), "actors": line["actors"]} for line in result["paths"]]
