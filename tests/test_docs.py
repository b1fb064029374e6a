"""The examples in the docs work: JSON events are valid, YAML plans load, vendor paths exist."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import yaml

from sextant.ingest import tracking_plan
from sextant.ingest.normalize import Context, normalize_documents
from sextant.ingest.vendors import registry
from sextant.project import IngestSettings, ProjectConfig
from tests.conftest import T0

DOCS = Path(__file__).parent.parent / "docs"


def blocks(page: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (DOCS / page).read_text(), flags=re.DOTALL)


def test_json_examples_in_the_ingestion_docs_are_accepted() -> None:
    examples = blocks("ingest.md", "json")
    assert examples
    for example in examples:
        value = orjson.loads(example)
        events = value.get("batch", [value])
        batch = normalize_documents(
            [orjson.dumps(event).decode() for event in events], Context(T0, "api", IngestSettings())
        )
        assert batch.rejections == [], example


def test_the_tracking_plan_example_loads_and_the_configuration_example_validates() -> None:
    (plan,) = blocks("tracking-plan.md", "yaml")
    assert tracking_plan.TrackingPlan.model_validate(yaml.safe_load(plan)).derived
    (config,) = blocks("configuration.md", "yaml")
    ProjectConfig.model_validate(yaml.safe_load(config) | {"secret_key": "x"})


def test_every_vendor_path_is_documented() -> None:
    text = (DOCS / "ingest.md").read_text()
    for vendor in registry():
        for path in vendor.paths:
            if path.endswith("/") or path in ("/capture", "/e", "/i/v0/e", "/v1/import"):
                continue  # aliases of documented paths
            assert path in text, path


def test_every_insight_example_is_a_valid_spec_and_every_kind_has_one(tmp_path: Path) -> None:
    from sextant.insights.runner import RUNNERS, parse_spec
    from sextant.insights.service import Insights
    from sextant.workspace import Workspace

    examples = [orjson.loads(example) for example in blocks("insights.md", "json")]
    queries = [example for example in examples if "kind" in example]
    assert {example["kind"] for example in queries} == set(RUNNERS)
    workspace, _ = Workspace.initialize(tmp_path / "docs", name="docs")
    insights = Insights(workspace.project, workspace.warehouse, tracking_plan.TrackingPlan, workspace.metadata)
    for example in queries:
        parse_spec(example)
        assert insights.query(example).kind == example["kind"]  # runs on an empty warehouse
    for cohort in (example for example in examples if "kind" not in example):
        saved = insights.create_cohort(cohort)
        spec = {
            "kind": "segmentation",
            "series": [{"event": None}],
            "filters": [{"type": "cohort", "cohort": saved.id}],
        }
        assert insights.query(spec).result["series"][0]["total"] == 0
    workspace.close()
