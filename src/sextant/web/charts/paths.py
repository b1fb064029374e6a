"""Path charts: a flow diagram (Sankey) drawn with plain Vega-Lite marks, and the top paths as bars."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sextant.insights.scan import OTHER
from sextant.web.charts.base import COUNT_AXIS, MORE, Chart, KindCharts, Result, Spec, actor_noun, readable

NODES_PER_STEP = 8  # the rest of a step's events show as one "Other events" node
NODE_WIDTH = 0.12  # of the distance between two steps
CURVE_POINTS = 12  # points along each band's edges


def types(spec: Spec, result: Result | None) -> tuple[str, ...]:
    return ("path_flow", "bar", "table")


def flow(spec: Spec, result: Result) -> Chart:
    """A Sankey diagram drawn with plain marks: one column of nodes per step (an event's height is how many
    actors were there), and curved bands from each node to the next step, as wide as the actors who went."""
    nodes, links = layout(result)
    steps = max((node["step"] for node in nodes), default=0) + 1
    per_step = max((sum(1 for node in nodes if node["step"] == step) for step in range(steps)), default=1)
    extent = max((node["y1"] for node in nodes), default=1)
    x_scale = {"domain": [0, steps - 1 + 0.85], "nice": False, "zero": False}
    y_scale = {"domain": [0, extent], "reverse": True, "nice": False, "zero": True}
    hidden = {"axis": None}
    noun = actor_noun(spec)
    return {
        "width": "container",
        "height": max(220, 34 * per_step),
        "layer": [
            {
                "data": {"values": [point for link in links for point in link["points"]]},
                "mark": {"type": "area", "opacity": 0.35, "interpolate": "linear"},
                "encoding": {
                    "x": {"field": "x", "type": "quantitative", "scale": x_scale, **hidden},
                    "y": {"field": "y0", "type": "quantitative", "scale": y_scale, **hidden},
                    "y2": {"field": "y1"},
                    "detail": {"field": "link", "type": "nominal"},
                    "color": {"field": "source", "type": "nominal", "legend": None},
                    "tooltip": [
                        {"field": "flow", "title": "Step"},
                        {"field": "actors", "title": noun, "format": ","},
                    ],
                },
            },
            {
                "data": {"values": nodes},
                "mark": {"type": "rect", "cornerRadius": 2},
                "encoding": {
                    "x": {"field": "x0", "type": "quantitative", "scale": x_scale, **hidden},
                    "x2": {"field": "x1"},
                    "y": {"field": "y0", "type": "quantitative", "scale": y_scale, **hidden},
                    "y2": {"field": "y1"},
                    "color": {"field": "event", "type": "nominal", "legend": None},
                    "tooltip": [
                        {"field": "step_label", "title": "Step"},
                        {"field": "event", "title": "Event"},
                        {"field": "actors", "title": noun, "format": ","},
                    ],
                },
            },
            {
                "data": {"values": nodes},
                "mark": {"type": "text", "align": "left", "baseline": "middle", "dx": 4, "fontSize": 11},
                "encoding": {
                    "x": {"field": "x1", "type": "quantitative", "scale": x_scale, **hidden},
                    "y": {"field": "y_middle", "type": "quantitative", "scale": y_scale, **hidden},
                    "text": {"field": "label"},
                },
            },
        ],
    }


def layout(result: Result) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes (step, event, actors and their box) and links (with the outline points of their band) of a
    paths result. Each step keeps its biggest events; the rest become one "Other events" node."""
    # A node's actors: at the first step, those who went on plus those whose path ends there; later, those
    # who arrived (some of whom went on).
    sizes: dict[tuple[int, str], int] = defaultdict(int)
    for edge in result["edges"]:
        if edge["step"] == 0:
            sizes[(0, edge["source"])] += edge["actors"]
        sizes[(edge["step"] + 1, edge["target"])] += edge["actors"]
    for line in result["paths"]:  # paths of one event are in no edge
        if len(line["path"]) == 1 and line["path"][0] != OTHER:
            sizes[(0, line["path"][0])] += line["actors"]
    kept = _kept_nodes(sizes)
    merged: dict[tuple[int, str], int] = defaultdict(int)
    for key, size in sizes.items():
        merged[kept[key]] += size
    flows: dict[tuple[int, str, str], int] = defaultdict(int)
    for edge in result["edges"]:
        step = edge["step"]
        flows[(step, kept[(step, edge["source"])][1], kept[(step + 1, edge["target"])][1])] += edge["actors"]
    total = max((sum(size for (step, _), size in merged.items() if step == column) for column, _ in merged), default=1)
    gap = total * 0.06
    nodes: list[dict[str, Any]] = []
    place: dict[tuple[int, str], dict[str, Any]] = {}
    for column in sorted({step for step, _ in merged}):
        events = sorted(
            (event for step, event in merged if step == column),
            key=lambda event: (event == MORE, -merged[(column, event)], event),
        )
        top = 0.0
        for event in events:
            size = merged[(column, event)]
            node = {
                "step": column,
                "step_label": f"Step {column + 1}",
                "event": readable(event),
                "actors": size,
                "label": f"{readable(event)} ({size:,})",
                "x0": float(column),
                "x1": column + NODE_WIDTH,
                "y0": top,
                "y1": top + size,
                "y_middle": top + size / 2,
            }
            nodes.append(node)
            place[(column, event)] = {"out": top, "in": top}
            top += size + gap
    links = []
    ordered = sorted(flows.items(), key=lambda item: (item[0][0], -item[1], item[0][1], item[0][2]))
    for number, ((step, source, target), actors) in enumerate(ordered):
        start = place[(step, source)]["out"]
        end = place[(step + 1, target)]["in"]
        place[(step, source)]["out"] += actors
        place[(step + 1, target)]["in"] += actors
        label = f"{readable(source)} → {readable(target)}"
        points = []
        for index in range(CURVE_POINTS + 1):
            t = index / CURVE_POINTS
            eased = t * t * (3 - 2 * t)
            y0 = start + (end - start) * eased
            x = step + NODE_WIDTH + t * (1 - NODE_WIDTH)
            points.append(
                {
                    "link": number,
                    "x": x,
                    "y0": y0,
                    "y1": y0 + actors,
                    "source": readable(source),
                    "flow": label,
                    "actors": actors,
                }
            )
        links.append({"step": step, "source": source, "target": target, "actors": actors, "points": points})
    return nodes, links


def _kept_nodes(sizes: dict[tuple[int, str], int]) -> dict[tuple[int, str], tuple[int, str]]:
    """Each node -> itself if among its step's biggest, else its step's "Other events" node."""
    kept = {}
    for column in {step for step, _ in sizes}:
        ranked = sorted((event for step, event in sizes if step == column), key=lambda e: (-sizes[(column, e)], e))
        limit = NODES_PER_STEP if len(ranked) <= NODES_PER_STEP else NODES_PER_STEP - 1
        for position, event in enumerate(ranked):
            kept[(column, event)] = (column, event if position < limit else MORE)
    return kept


def top_paths(spec: Spec, result: Result) -> Chart:
    rows = [
        {"path": " → ".join(readable(step) for step in line["path"]), "actors": line["actors"]}
        for line in result["paths"]
    ]
    return {
        "data": {"values": rows},
        "width": "container",
        "height": {"step": 26},
        "encoding": {
            "y": {"field": "path", "type": "nominal", "sort": None, "title": None, "axis": {"labelLimit": 420}},
            "x": {
                "field": "actors",
                "type": "quantitative",
                "title": actor_noun(spec),
                "axis": COUNT_AXIS,
                "scale": {"domainMax": max((row["actors"] for row in rows), default=0) * 1.15 or 1},
            },
            "tooltip": [
                {"field": "path", "title": "Path"},
                {"field": "actors", "title": actor_noun(spec), "format": ","},
            ],
        },
        "layer": [
            {"mark": {"type": "bar", "color": "#1565c0", "cornerRadiusEnd": 2}},
            {
                "mark": {"type": "text", "align": "left", "dx": 4, "fontSize": 11},
                "encoding": {"text": {"field": "actors", "format": ","}},
            },
        ],
    }


def title(spec: Spec, result: Result) -> str:
    if spec.get("end_event"):
        return f"Paths to {spec['end_event']}"
    return f"Paths from {spec['start_event']}" if spec.get("start_event") else "Paths"


CHARTS = KindCharts(types, {"path_flow": flow, "bar": top_paths}, title)
