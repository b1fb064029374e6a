"""Charts drawn by the vendored vega-embed in Chromium, from specs that `sextant.web.charts` makes of real
insight results over the known dataset (`dataset.py`). Expected numbers are worked out by hand from the
journeys there, and checked against what is on screen: marks, their labels, tooltips and positions."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sextant.web.charts import chart_spec, chart_types
from tests.browser import dataset
from tests.browser.conftest import ChartPage, RunInsight


def described(mark: dict[str, Any]) -> dict[str, str]:
    """The fields Vega lists in a mark's accessible label (`Users: 3; Step: 2. Search; ...`)."""
    pairs = (part.split(": ", 1) for part in mark["label"].split("; ") if ": " in part)
    return {key: value.replace("\u2212", "-") for key, value in pairs}


def draw(
    chart_page: ChartPage, run_insight: RunInsight, spec: dict[str, Any], chart: str | None = None, **query: Any
) -> dict[str, Any]:
    """Run the insight, make its chart and draw it; the insight's result."""
    result = run_insight(spec, **query)
    drawn = chart_spec(spec, result, chart)
    assert drawn is not None
    chart_page.render(drawn)
    return result


def test_funnel_bars_show_each_step_with_its_count_and_conversion(
    chart_page: ChartPage, run_insight: RunInsight
) -> None:
    draw(chart_page, run_insight, dataset.FUNNEL)
    bars = sorted(chart_page.marks("bar"), key=lambda bar: bar["y"])
    # alice, bob, carol and dave signed up; all but dave searched within a day; alice and carol clicked.
    assert [described(bar)["Users"] for bar in bars] == ["4", "3", "2"]
    assert [described(bar)["Step"] for bar in bars] == ["1. Signed Up", "2. Search", "3. Clicked Result"]
    assert bars[1]["width"] / bars[0]["width"] == pytest.approx(3 / 4, rel=0.01)
    assert bars[2]["width"] / bars[0]["width"] == pytest.approx(2 / 4, rel=0.01)
    texts = chart_page.texts()
    assert {"4 · 100.0%", "3 · 75.0%", "2 · 50.0%"} <= set(texts)
    assert "Funnel: Signed Up → Search → Clicked Result" in texts
    # Searches came 2h (alice), 5h (bob) and 1h (carol) after signing up: the median is 2h.
    tooltip = chart_page.tooltip_on(bars[1]["x"] + 10, bars[1]["y"] + bars[1]["height"] / 2)
    assert re.sub(r"\s+", " ", tooltip).strip() == (
        "Step 2. Search Users 3 From first step 75.0% From previous step 75.0% Median time from previous step 2h 0m"
    )


def test_funnel_with_a_breakdown_has_a_bar_per_step_and_value(chart_page: ChartPage, run_insight: RunInsight) -> None:
    draw(chart_page, run_insight, dataset.FUNNEL_BY_SOURCE)
    bars = chart_page.marks("bar")
    assert len(bars) == 3 * 2
    counts: dict[str, list[str]] = {}
    for bar in sorted(bars, key=lambda bar: bar["y"]):
        fields = described(bar)
        counts.setdefault(fields["utm_source"], []).append(fields["Users"])
    # carol came from an ad and went all the way; alice (3 steps), bob (2) and dave (1) have no source.
    assert counts == {"ads": ["1", "1", "1"], "(none)": ["3", "2", "1"]}
    assert len({bar["fill"] for bar in bars}) == 2
    assert {"utm_source", "ads", "(none)"} <= set(chart_page.texts())


def test_funnel_number_is_the_overall_conversion(chart_page: ChartPage, run_insight: RunInsight) -> None:
    draw(chart_page, run_insight, dataset.FUNNEL, "number")
    texts = chart_page.texts()
    assert "50.0%" in texts and "2 of 4 users converted" in texts


def test_retention_heatmap_has_a_cell_per_cohort_and_ended_period(
    chart_page: ChartPage, run_insight: RunInsight
) -> None:
    draw(chart_page, run_insight, dataset.RETENTION, now=dataset.RETENTION_NOW)
    cells = chart_page.marks("rect mark")
    seen = {(described(cell)["Cohort (day of)"], described(cell)["Days later"]): described(cell) for cell in cells}
    # On 10 May the 6 May cohort (alice) has had days 0-3, the 7 May one (bob) 0-2, the 8 May one (carol)
    # 0-1; no one signed up on 9 May. alice searched the next day; bob two days later.
    expected = {
        ("2024-05-06", "0"): "100%",
        ("2024-05-06", "1"): "100%",
        ("2024-05-06", "2"): "0%",
        ("2024-05-06", "3"): "0%",
        ("2024-05-07", "0"): "100%",
        ("2024-05-07", "1"): "0%",
        ("2024-05-07", "2"): "100%",
        ("2024-05-08", "0"): "100%",
        ("2024-05-08", "1"): "0%",
    }
    assert len(cells) == len(expected)
    assert {key: fields["Retention"] for key, fields in seen.items()} == expected
    # A returned cohort is drawn darker than one that did not come back.
    fills = {key: cell["fill"] for key, cell in zip(seen, cells, strict=True)}
    assert fills[("2024-05-07", "2")] == fills[("2024-05-06", "1")] != fills[("2024-05-07", "1")]
    labels = [mark["text"] for mark in chart_page.marks("text mark")]
    assert sorted(labels) == sorted(["100%"] * 5 + ["0%"] * 4)
    texts = chart_page.texts()
    assert {"2024-05-06 (1)", "2024-05-07 (1)", "2024-05-08 (1)", "Days later"} <= set(texts)


def test_path_flow_shows_each_step_and_the_flows_between(chart_page: ChartPage, run_insight: RunInsight) -> None:
    draw(chart_page, run_insight, dataset.PATHS)
    nodes = sorted(chart_page.marks("rect mark"), key=lambda node: node["x"])
    # From signing up: alice and carol searched then clicked, bob searched, dave did nothing more.
    assert [(described(node)["Event"], described(node)["Users"]) for node in nodes] == [
        ("Signed Up", "4"),
        ("Search", "3"),
        ("Clicked Result", "2"),
    ]
    assert nodes[1]["height"] / nodes[0]["height"] == pytest.approx(3 / 4, rel=0.02)
    assert nodes[0]["x"] < nodes[1]["x"] < nodes[2]["x"]
    flows = chart_page.marks("area mark")
    assert sorted((described(flow)["Step"], described(flow)["Users"]) for flow in flows) == [
        ("Search → Clicked Result", "2"),
        ("Signed Up → Search", "3"),
    ]
    assert {"Signed Up (4)", "Search (3)", "Clicked Result (2)"} <= set(chart_page.texts())


def test_lifecycle_draws_dormant_below_zero(chart_page: ChartPage, run_insight: RunInsight) -> None:
    draw(chart_page, run_insight, dataset.LIFECYCLE)
    bars = {(described(bar)["Week of"], described(bar)["Status"]): bar for bar in chart_page.marks("bar")}
    assert len(bars) == 3 * 4  # weeks of 29 Apr, 6 May and 13 May x four statuses
    # Everyone but dave was first active in the week of 6 May; in the next week dave is new and the other
    # four are dormant.
    assert described(bars[("2024-05-06", "new")])["Users"] == "4"
    assert described(bars[("2024-05-13", "new")])["Users"] == "1"
    assert described(bars[("2024-05-13", "dormant")])["Users"] == "-4"
    new, dormant = bars[("2024-05-13", "new")], bars[("2024-05-13", "dormant")]
    assert dormant["y"] >= new["y"] + new["height"] - 0.5  # below the new bar, i.e. under zero
    assert dormant["height"] == pytest.approx(4 * new["height"], rel=0.02)
    assert dormant["fill"] != new["fill"]


def test_active_users_lines_keep_the_project_days_in_any_browser_time_zone(
    chart_page: ChartPage, run_insight: RunInsight
) -> None:
    result = draw(chart_page, run_insight, dataset.ACTIVE_USERS)
    points = [described(point) for point in chart_page.marks("point")]
    assert len(points) == 3 * len(result["labels"]) == 3 * 17
    daily = {point["Day"]: point["Users"] for point in points if point["Active"] == "DAU"}
    # Sign-ups are not activity. 6 May: alice searched; 7 May: alice and bob; 9 May: bob and erin;
    # 14 May: dave only signed up.
    # The browser is in Los Angeles; points and the axis still show the project's days (a shift would put
    # alice's and bob's 7 May on 6 May, and start the axis on 30 April).
    assert (daily["May 06"], daily["May 07"], daily["May 09"], daily["May 14"]) == ("1", "2", "2", "0")
    texts = chart_page.texts()
    assert "May 01" in texts and not any(text.startswith("Apr") for text in texts)
    assert {"DAU", "WAU", "MAU", "Users"} <= set(texts)


def test_segmentation_line_has_a_point_per_day(chart_page: ChartPage, run_insight: RunInsight) -> None:
    draw(chart_page, run_insight, dataset.SEGMENTATION)
    points = {described(point)["Day"]: described(point)["Events"] for point in chart_page.marks("point")}
    assert len(points) == 17
    # Searches: alice on 6 and 7 May, bob on 7 and 9 May, carol on 8 May, erin on 9 May.
    assert {day: points[day] for day in ("May 06", "May 07", "May 08", "May 09", "May 10")} == {
        "May 06": "1",
        "May 07": "2",
        "May 08": "1",
        "May 09": "2",
        "May 10": "0",
    }


KINDS = [
    dataset.SEGMENTATION,
    dataset.FUNNEL,
    dataset.FUNNEL_BY_SOURCE,
    {**dataset.FUNNEL, "view": "over_time"},
    dataset.RETENTION,
    {**dataset.RETENTION, "breakdown": {"type": "event", "key": "utm_source"}},
    dataset.STICKINESS,
    dataset.LIFECYCLE,
    dataset.ACTIVE_USERS,
    dataset.PATHS,
]


@pytest.mark.parametrize("spec", KINDS, ids=lambda spec: f"{spec['kind']}-{len(spec)}")
def test_every_chart_of_every_kind_draws_without_errors(
    chart_page: ChartPage, run_insight: RunInsight, spec: dict[str, Any]
) -> None:
    result = run_insight(spec)
    for chart in chart_types(spec, result).types:
        drawn = chart_spec(spec, result, chart)
        if drawn is None:
            continue
        chart_page.render(drawn)
        size = chart_page.page.locator("#chart svg").first.bounding_box()
        assert size is not None and size["width"] > 200 and size["height"] > 100, chart
        assert drawn["title"]["text"] in chart_page.texts(), chart
