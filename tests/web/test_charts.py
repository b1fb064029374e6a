"""`sextant.web.charts` and `sextant.web.chart_images`: the data each chart inlines, checked against numbers
worked out by hand from the browser tests' known journeys (`tests/browser/dataset.py`); every spec valid
against the vendored Vega-Lite JSON schema and drawn by vl-convert; PNG and SVG images."""

from __future__ import annotations

import gzip
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from sextant.errors import QueryError
from sextant.ingest.store import EventStore
from sextant.ingest.tracking_plan import TrackingPlan
from sextant.insights.runner import run_query
from sextant.insights.scan import QueryContext
from sextant.web import charts
from sextant.web.chart_images import render_png, render_svg
from sextant.web.charts import paths as path_charts
from sextant.workspace import Workspace
from tests.browser import dataset
from tests.conftest import ingest, journeys_for, warehouse_url

WEB = Path(charts.__file__).parent.parent
VENDOR = WEB / "static" / "vendor"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    directory = tmp_path_factory.mktemp("charts")
    opened, _ = Workspace.initialize(
        directory / "project", name="acme", timezone=dataset.TIMEZONE, warehouse=warehouse_url("duckdb", directory)
    )
    ingest(EventStore(opened.project, opened.warehouse), journeys_for(dataset.JOURNEYS))
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def query(workspace: Workspace) -> Any:
    def run(spec: dict[str, Any], now: Any = dataset.NOW) -> dict[str, Any]:
        project = workspace.project
        context = QueryContext(workspace.warehouse, project.name, project.config.timezone, TrackingPlan(), now)
        return run_query(spec, context).result

    return run


def data(chart: dict[str, Any] | None, layer: int | None = None) -> list[dict[str, Any]]:
    assert chart is not None
    rows: list[dict[str, Any]] = (chart["layer"][layer] if layer is not None else chart)["data"]["values"]
    return rows


def test_chart_types_per_kind_with_the_default_first() -> None:
    expected = {
        "segmentation": ("line", "bar", "number", "table"),
        "funnel": ("funnel", "number", "table"),
        "retention": ("heatmap", "line", "table"),
        "stickiness": ("bar", "line", "table"),
        "lifecycle": ("bar", "table"),
        "active_users": ("line", "number", "table"),
        "paths": ("path_flow", "bar", "table"),
        "instances": ("bar", "number", "table"),
        "persons": ("table",),
    }
    assert {kind: charts.chart_types({"kind": kind}).types for kind in expected} == expected
    assert charts.chart_types({"kind": "funnel"}).default == "funnel"
    assert charts.chart_types({"kind": "funnel", "view": "over_time"}).types == ("line", "bar", "table")
    assert charts.chart_types({"kind": "funnel", "persons": {"step": 1}}).types == ("table",)
    every = {chart for kind in expected for chart in charts.chart_types({"kind": kind}).types}
    assert every == set(charts.CHART_TYPES)


def test_a_table_has_no_chart_and_an_unsuitable_type_is_refused(query: Any) -> None:
    result = query(dataset.FUNNEL)
    assert charts.chart_spec(dataset.FUNNEL, result, "table") is None
    with pytest.raises(QueryError, match="cannot be drawn as 'heatmap'; use one of funnel, number, table"):
        charts.chart_spec(dataset.FUNNEL, result, "heatmap")
    segmentation = {**dataset.SEGMENTATION, "series": [{"event": "Search"}, {"event": "Signed Up"}]}
    assert "number" not in charts.chart_types(segmentation, query(segmentation)).types
    titled = charts.chart_spec(dataset.FUNNEL, result, title="Sign-up funnel")
    assert titled is not None and titled["title"]["text"] == "Sign-up funnel"


def test_funnel_bars_inline_each_step(query: Any) -> None:
    chart = charts.chart_spec(dataset.FUNNEL, query(dataset.FUNNEL))
    rows = [(row["step_label"], row["count"], row["conversion_from_first"], row["median_time"]) for row in data(chart)]
    # Searches 2h, 5h and 1h after signing up (median 2h); clicks 1h after alice's and carol's searches.
    assert rows == [
        ("1. Signed Up", 4, 1.0, "—"),
        ("2. Search", 3, 0.75, "2h 0m"),
        ("3. Clicked Result", 2, 0.5, "1h 0m"),
    ]
    assert chart is not None and chart["encoding"]["x"]["title"] == "Users"


def test_funnel_bars_by_breakdown_and_counted_by_group(query: Any) -> None:
    chart = charts.chart_spec(dataset.FUNNEL_BY_SOURCE, query(dataset.FUNNEL_BY_SOURCE))
    rows = [(row["breakdown"], row["count"]) for row in data(chart)]
    assert rows == [("(none)", 3), ("(none)", 2), ("(none)", 1), ("ads", 1), ("ads", 1), ("ads", 1)]
    assert chart is not None and chart["encoding"]["color"]["title"] == "utm_source"
    number = charts.chart_spec(dataset.FUNNEL, query(dataset.FUNNEL), "number")
    assert data(number)[0] == {"value": 0.5, "text": "50.0%", "caption": "2 of 4 users converted"}


def test_funnel_over_time(query: Any) -> None:
    spec = {**dataset.FUNNEL, "view": "over_time"}
    line = charts.chart_spec(spec, query(spec))
    conversion = {row["bucket"]: row["value"] for row in data(line) if row["value"] is not None}
    # Sign-ups: alice 6 May, bob 7 May (searched, never clicked), carol 8 May, dave 14 May.
    assert conversion == {"2024-05-06": 1.0, "2024-05-07": 0.0, "2024-05-08": 1.0, "2024-05-14": 0.0}
    bars = charts.chart_spec(spec, query(spec), "bar")
    entered = sum(row["value"] for row in data(bars) if row["series"] == "Entered")
    converted = sum(row["value"] for row in data(bars) if row["series"] == "Converted")
    assert (entered, converted) == (4, 2)


def test_retention_heatmap_is_a_triangle_of_ended_periods(query: Any) -> None:
    chart = charts.chart_spec(dataset.RETENTION, query(dataset.RETENTION, now=dataset.RETENTION_NOW))
    cells = {(row["cohort"], row["period"]): (row["count"], row["rate"]) for row in data(chart)}
    assert cells == {
        ("2024-05-06", "0"): (1, 1.0),
        ("2024-05-06", "1"): (1, 1.0),
        ("2024-05-06", "2"): (0, 0.0),
        ("2024-05-06", "3"): (0, 0.0),
        ("2024-05-07", "0"): (1, 1.0),
        ("2024-05-07", "1"): (0, 0.0),
        ("2024-05-07", "2"): (1, 1.0),
        ("2024-05-08", "0"): (1, 1.0),
        ("2024-05-08", "1"): (0, 0.0),
    }


def test_retention_curve_weighs_the_cohorts_whose_period_ended(query: Any) -> None:
    chart = charts.chart_spec(dataset.RETENTION, query(dataset.RETENTION, now=dataset.RETENTION_NOW), "line")
    curve = [(row["period"], row["count"], row["size"]) for row in data(chart)]
    assert curve == [("0", 3, 3), ("1", 1, 3), ("2", 1, 2), ("3", 0, 1)]


def test_retention_by_breakdown_is_faceted(query: Any) -> None:
    spec = {**dataset.RETENTION, "breakdown": {"type": "event", "key": "utm_source"}}
    chart = charts.chart_spec(spec, query(spec, now=dataset.RETENTION_NOW))
    assert chart is not None and chart["facet"]["row"]["field"] == "breakdown"
    assert {row["breakdown"] for row in data(chart) if row["cohort"] == "2024-05-08"} == {"ads"}


def test_lifecycle_rows_with_dormant_negative(query: Any) -> None:
    chart = charts.chart_spec(dataset.LIFECYCLE, query(dataset.LIFECYCLE))
    nonzero = {(row["bucket"], row["status"]): row["actors"] for row in data(chart) if row["actors"]}
    assert nonzero == {("2024-05-06", "new"): 4, ("2024-05-13", "new"): 1, ("2024-05-13", "dormant"): -4}
    assert chart is not None and chart["encoding"]["color"]["scale"]["domain"][-1] == "dormant"


def test_active_users_lines_and_number(query: Any) -> None:
    result = query(dataset.ACTIVE_USERS)
    rows = data(charts.chart_spec(dataset.ACTIVE_USERS, result))
    value = {(row["bucket"], row["measure"]): row["users"] for row in rows}
    # Sign-ups are not activity: dave never counts. WAU on 9 May covers 3-9 May: alice, bob, carol, erin.
    assert [value[(day, "DAU")] for day in ("2024-05-06", "2024-05-07", "2024-05-08", "2024-05-09")] == [1, 2, 1, 2]
    assert value[("2024-05-09", "WAU")] == 4 and value[("2024-05-17", "MAU")] == 4
    assert value[("2024-05-17", "WAU")] == 0
    assert rows[0]["time"] == "2024-05-01T00:00:00Z"
    number = data(charts.chart_spec(dataset.ACTIVE_USERS, result, "number"))[0]
    assert (number["text"], number["caption"]) == ("0", "Daily active users on 2024-05-17")


def test_segmentation_lines_bars_and_total(query: Any) -> None:
    result = query(dataset.SEGMENTATION)
    searches = {row["bucket"]: row["value"] for row in data(charts.chart_spec(dataset.SEGMENTATION, result))}
    assert {day: count for day, count in searches.items() if count} == {
        "2024-05-06": 1,
        "2024-05-07": 2,
        "2024-05-08": 1,
        "2024-05-09": 2,
    }
    bars = charts.chart_spec(dataset.SEGMENTATION, result, "bar")
    assert bars is not None and bars["encoding"]["x"]["field"] == "bucket"
    total = data(charts.chart_spec(dataset.SEGMENTATION, result, "number"))[0]
    assert (total["value"], total["text"], total["caption"]) == (6, "6", "A: Search (total)")
    hourly = {**dataset.SEGMENTATION, "interval": "hour", "date_from": "2024-05-06", "date_to": "2024-05-06"}
    rows = data(charts.chart_spec(hourly, query(hourly)))
    # alice searched at 11:00 UTC, 13:00 in Berlin; the hour is shown as it was there.
    assert [row["time"] for row in rows if row["value"]] == ["2024-05-06T13:00:00Z"]


def test_segmentation_lines_of_one_series_are_named_by_their_breakdown_values(query: Any) -> None:
    by_source = {
        **dataset.SEGMENTATION,
        "series": [{"event": "Signed Up"}],
        "breakdown": {"type": "event", "key": "utm_source"},
        "interval": "week",
    }
    chart = charts.chart_spec(by_source, query(by_source))
    assert chart is not None and chart["encoding"]["color"]["title"] == "utm_source"
    weekly = {(row["series"], row["bucket"]): row["value"] for row in data(chart)}
    # Sign-ups in the weeks of 6 and 13 May: alice and bob with no source, carol from ads; dave with none.
    assert weekly == {
        ("(none)", "2024-04-29"): 0,
        ("(none)", "2024-05-06"): 2,
        ("(none)", "2024-05-13"): 1,
        ("ads", "2024-04-29"): 0,
        ("ads", "2024-05-06"): 1,
        ("ads", "2024-05-13"): 0,
    }
    # Lines of several series keep their series in their names.
    two = {**by_source, "series": [{"event": "Signed Up"}, {"event": "Search"}]}
    names = {row["series"] for row in data(charts.chart_spec(two, query(two)))}
    assert "A: Signed Up (total) [ads]" in names and "B: Search (total) [(none)]" in names


def test_buckets_cut_short_by_the_range_or_by_now_are_dashed_and_pale(query: Any) -> None:
    weekly = {**dataset.SEGMENTATION, "interval": "week"}
    chart = charts.chart_spec(weekly, query(weekly))
    assert chart is not None
    # The range runs from Wednesday 1 May to Friday 17 May: its first and last weeks are partial.
    assert {row["bucket"]: row["incomplete"] for row in data(chart)} == {
        "2024-04-29": True,
        "2024-05-06": False,
        "2024-05-13": True,
    }
    dashed, solid = chart["layer"]
    assert dashed["mark"]["strokeDash"] and "strokeDash" not in solid["mark"]
    assert solid["transform"] == [{"filter": "!datum.incomplete"}]
    bars = charts.chart_spec(weekly, query(weekly), "bar")
    assert bars is not None and bars["encoding"]["opacity"]["condition"]["test"] == "datum.incomplete"
    # Until now, on Thursday 9 May at 21:00 in Berlin: that day is not over; whole days are drawn solid.
    until_now = {**dataset.SEGMENTATION, "date_to": None}
    rows = data(charts.chart_spec(until_now, query(until_now, now=dataset.T0 + 3 * dataset.DAY + 10 * dataset.HOUR)))
    assert [row["bucket"] for row in rows if row["incomplete"]] == ["2024-05-09"]
    assert len(rows) == 9
    daily = charts.chart_spec(dataset.SEGMENTATION, query(dataset.SEGMENTATION))
    assert daily is not None and "layer" not in daily and not any(row["incomplete"] for row in data(daily))


def test_stickiness_bars(query: Any) -> None:
    rows = data(charts.chart_spec(dataset.STICKINESS, query(dataset.STICKINESS)))
    # Week of 6 May: alice (6, 7 May) and bob (7, 9 May) on 2 days; carol and erin on 1. dave: 1 day a week later.
    assert [(row["days"], row["actors"]) for row in rows][:3] == [(1, 3), (2, 2), (3, 0)]


def test_path_flow_nodes_and_bands(query: Any) -> None:
    chart = charts.chart_spec(dataset.PATHS, query(dataset.PATHS))
    nodes = [(row["step"], row["event"], row["actors"]) for row in data(chart, 1)]
    assert nodes == [(0, "Signed Up", 4), (1, "Search", 3), (2, "Clicked Result", 2)]
    bands = data(chart, 0)
    for link in {row["link"] for row in bands}:
        points = [row for row in bands if row["link"] == link]
        assert all(row["y1"] - row["y0"] == row["actors"] for row in points)  # as thick as its actors
    by_flow = {row["flow"]: row["actors"] for row in bands}
    assert by_flow == {"Signed Up → Search": 3, "Search → Clicked Result": 2}
    top = data(charts.chart_spec(dataset.PATHS, query(dataset.PATHS), "bar"))
    assert top == [
        {"path": "Signed Up → Search → Clicked Result", "actors": 2},
        {"path": "Signed Up", "actors": 1},
        {"path": "Signed Up → Search", "actors": 1},
    ]


def test_path_flow_keeps_the_biggest_events_of_a_step() -> None:
    events = [f"Event {index:02}" for index in range(12)]
    result = {
        "actors": sum(range(1, 13)),
        "paths": [{"path": ["Start", event], "actors": index + 1} for index, event in enumerate(events)],
        "edges": [
            {"step": 0, "source": "Start", "target": event, "actors": index + 1} for index, event in enumerate(events)
        ],
    }
    nodes, links = path_charts.layout(result)
    second = [(node["event"], node["actors"]) for node in nodes if node["step"] == 1]
    kept = path_charts.NODES_PER_STEP - 1
    assert second[:kept] == [(f"Event {index:02}", index + 1) for index in range(11, 11 - kept, -1)]
    assert second[kept] == ("Other events", sum(range(1, 12 - kept + 1)))
    assert sum(link["actors"] for link in links) == sum(range(1, 13))
    assert [node["actors"] for node in nodes if node["step"] == 0] == [sum(range(1, 13))]


def test_instances_bars_and_number_are_valid_and_draw() -> None:
    spec = {"kind": "instances", "by": "versions_behind"}
    result = {
        "by": "versions_behind",
        "results": [{"value": "1", "instances": 7}, {"value": "0", "instances": 3}, {"value": "$none", "instances": 1}],
        "total": 11,
    }
    bars = charts.chart_spec(spec, result, "bar")
    assert bars is not None and bars["title"]["text"] == "Instances by versions behind"
    assert bars["data"]["values"] == [
        {"value": "1", "instances": 7},
        {"value": "0", "instances": 3},
        {"value": "(none)", "instances": 1},
    ]
    number = charts.chart_spec(spec, result, "number")
    assert number is not None and number["data"]["values"][0]["text"] == "11"
    schema = orjson.loads(gzip.decompress((VENDOR / "vega-lite-schema.json.gz").read_bytes()))
    for chart in (bars, number):
        jsonschema.Draft7Validator(schema).validate(chart)
        assert render_png(chart)[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def every_chart(query: Any) -> list[tuple[str, dict[str, Any]]]:
    specs = [
        dataset.SEGMENTATION,
        {**dataset.SEGMENTATION, "series": [{"event": "Search"}, {"event": "Search", "math": "unique"}]},
        {**dataset.SEGMENTATION, "series": [{"event": "Search"}, {"event": "Signed Up"}], "formula": "A / B"},
        {**dataset.SEGMENTATION, "breakdown": {"type": "event", "key": "utm_source"}, "interval": "week"},
        dataset.FUNNEL,
        dataset.FUNNEL_BY_SOURCE,
        {**dataset.FUNNEL, "view": "over_time"},
        dataset.RETENTION,
        {**dataset.RETENTION, "breakdown": {"type": "event", "key": "utm_source"}},
        dataset.STICKINESS,
        {**dataset.STICKINESS, "cumulative": True, "interval": "month"},
        dataset.LIFECYCLE,
        dataset.ACTIVE_USERS,
        dataset.PATHS,
        {**dataset.PATHS, "start_event": None, "end_event": "Clicked Result"},
    ]
    drawn = []
    for spec in specs:
        result = query(spec)
        for chart_type in charts.chart_types(spec, result).types:
            chart = charts.chart_spec(spec, result, chart_type)
            if chart is not None:
                drawn.append((f"{spec['kind']} {chart_type}", chart))
    return drawn


def test_every_chart_is_valid_vega_lite(every_chart: list[tuple[str, dict[str, Any]]]) -> None:
    schema = orjson.loads(gzip.decompress((VENDOR / "vega-lite-schema.json.gz").read_bytes()))
    assert schema["$ref"] == "#/definitions/TopLevelSpec"
    validator = jsonschema.Draft7Validator(schema)
    for name, chart in every_chart:
        errors = [error.message for error in validator.iter_errors(chart)]
        assert errors == [], name
    with pytest.raises(jsonschema.ValidationError):  # the check can fail
        validator.validate({**every_chart[0][1], "mark": "pie chart"})


def test_every_chart_renders_on_the_server(every_chart: list[tuple[str, dict[str, Any]]]) -> None:
    for name, chart in every_chart:
        svg = render_svg(chart)
        assert svg.startswith("<svg") and chart["title"]["text"] in svg, name


def test_png_and_svg_images_for_deliveries(query: Any) -> None:
    chart = charts.chart_spec(dataset.FUNNEL, query(dataset.FUNNEL))
    assert chart is not None and chart["width"] == "container"
    png = render_png(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert 2 * 720 <= width <= 2 * 900 and 200 <= height <= 1000  # twice the image width, plus axes
    assert 10_000 < len(png) < 1_000_000
    assert chart["width"] == "container"  # rendering did not change the caller's spec
    svg = render_svg(chart)
    assert {"1. Signed Up", "3 · 75.0%", "Users"} <= set(re.findall(r">([^<>]+)</text>", svg))


def test_rendering_fetches_nothing(tmp_path: Path) -> None:
    """Charts carry their data; a spec that points at a URL (here a live local one) is refused unread."""
    import socket
    import subprocess
    import sys
    import time

    (tmp_path / "data.json").write_text('[{"a": 1}]')
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "requests.log"
    with log.open("w") as output:
        # In its own process: vl-convert holds the GIL while it fetches.
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(100):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/data.json"
        remote = {"data": {"url": url}, "mark": "bar", "encoding": {"x": {"field": "a", "type": "quantitative"}}}
        with pytest.raises(ValueError, match="allowed"):
            render_png(remote)
    finally:
        server.terminate()
        server.wait(10)
    assert "data.json" not in log.read_text()


def test_vendored_chart_files_match_their_readme_and_nothing_loads_from_a_cdn() -> None:
    import hashlib

    readme = (VENDOR / "README.md").read_text()
    for name in ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in readme
    remote = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//|cdn\.jsdelivr|unpkg\.com|cdnjs""", re.IGNORECASE)
    for path in WEB.rglob("*"):
        if path.suffix in {".html", ".py", ".css"}:
            assert not remote.search(path.read_text()), path


def test_the_docs_list_the_chart_types_of_every_kind() -> None:
    page = (WEB.parent.parent.parent / "docs" / "charts.md").read_text()
    documented = {
        kind: tuple(re.findall(r"`(\w+)`", types))
        for kind, types in re.findall(r"^\| `(\w+)` \| ([^|]+) \|", page, flags=re.MULTILINE)
    }
    assert set(documented) == {*charts.KINDS, "persons"}
    for kind, types in documented.items():
        assert charts.chart_types({"kind": kind}).types == types, kind
