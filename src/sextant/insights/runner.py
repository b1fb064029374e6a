"""The shared base of insight runners: spec validation, date resolution, comparison with the previous
period, caching, timing and the generated SQL. A new insight kind is one module with a `QueryRunner`
subclass plus one line in `RUNNERS`."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import orjson
import pyarrow as pa
from pydantic import TypeAdapter, ValidationError
from sqlglot import exp

from sextant.errors import QueryError
from sextant.insights import allocation
from sextant.insights.scan import EventScan, Parameters, QueryContext
from sextant.insights.spec import DateRange, InsightSpec, problems, resolve_dates
from sextant.insights.timeline import TimelineLookup

# kind -> "module:Class"
RUNNERS: dict[str, str] = {
    "segmentation": "sextant.insights.segmentation:SegmentationRunner",
    "funnel": "sextant.insights.funnel:FunnelRunner",
    "retention": "sextant.insights.retention:RetentionRunner",
    "stickiness": "sextant.insights.stickiness:StickinessRunner",
    "lifecycle": "sextant.insights.lifecycle:LifecycleRunner",
    "active_users": "sextant.insights.active_users:ActiveUsersRunner",
    "persons": "sextant.insights.persons:PersonsRunner",
    "paths": "sextant.insights.paths:PathsRunner",
    "instances": "sextant.insights.instances:InstancesRunner",
}


class QueryRunner(ABC):
    """Compiles one validated spec into named warehouse queries and shapes their results."""

    kind: ClassVar[str]
    spec_model: ClassVar[type[InsightSpec]]

    def __init__(self, spec: InsightSpec, context: QueryContext, dates: DateRange) -> None:
        self.spec = spec
        self.context = context
        self.dates = dates
        self.parameters = Parameters()
        self.timelines = TimelineLookup(context.timelines, context.engine, context.project, context.timezone)

    def scan(self) -> EventScan:
        return EventScan(
            self.context,
            self.parameters,
            count_by=self.spec.count_by,
            person_properties=self.spec.person_properties,
            timelines=self.timelines,
        )

    @abstractmethod
    def queries(self) -> dict[str, exp.Expr]:
        """The warehouse queries this insight needs, by name."""

    @abstractmethod
    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        """The JSON result from the queries' Arrow results."""

    @staticmethod
    @abstractmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        """The result as flat rows, for tables and CSV downloads."""


def runner_class(kind: str) -> type[QueryRunner]:
    if kind not in RUNNERS:
        raise QueryError(f"unknown insight kind {kind!r}; use one of {', '.join(sorted(RUNNERS))}")
    module_name, _, class_name = RUNNERS[kind].partition(":")
    runner: type[QueryRunner] = getattr(importlib.import_module(module_name), class_name)
    return runner


def parse_spec(spec: dict[str, Any] | InsightSpec) -> InsightSpec:
    """A validated spec; errors name the field and say what is expected."""
    if isinstance(spec, InsightSpec):
        return spec
    if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
        raise QueryError(f"a query spec is a JSON object with a `kind`: one of {', '.join(sorted(RUNNERS))}")
    model = runner_class(spec["kind"]).spec_model
    try:
        return model.model_validate(spec)
    except ValidationError as error:
        raise QueryError(f"invalid {spec['kind']} spec: {problems(error, 'spec')}") from None


def spec_schema() -> dict[str, Any]:
    """The JSON Schema of every insight spec, as one union on `kind`."""
    models = [runner_class(kind).spec_model for kind in sorted(RUNNERS)]
    union: Any = models[0]
    for model in models[1:]:
        union = union | model
    schema: dict[str, Any] = TypeAdapter(union).json_schema()
    schema["title"] = "Sextant insight spec"
    return schema


@dataclass(frozen=True)
class QueryResult:
    kind: str
    result: dict[str, Any]
    sql: dict[str, str]
    timing_ms: dict[str, float]
    date_from: dt.datetime
    date_to: dt.datetime
    cached: bool = False
    previous: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "result": self.result,
            "sql": self.sql,
            "timing_ms": self.timing_ms,
            "cached": self.cached,
        }
        if self.previous is not None:
            body["previous"] = self.previous
        return body


class ResultCache:
    """Recent results, keyed by the spec, its resolved dates, the caller's access filters and the warehouse's
    write generation (so a write in this process makes older results stale); entries expire after `ttl`."""

    def __init__(self, ttl: float = 300.0, size: int = 256) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[bytes, tuple[float, QueryResult]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> QueryResult | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or time.monotonic() - entry[0] > self.ttl:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: bytes, result: QueryResult) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic(), result)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def run_query(
    spec: dict[str, Any] | InsightSpec,
    context: QueryContext,
    cache: ResultCache | None = None,
    *,
    refresh: bool = False,
) -> QueryResult:
    """Validate, compile, run and shape one insight query (and its previous period when asked)."""
    allocation.keep_freed_memory()
    parsed = parse_spec(spec)
    dates = resolve_dates(parsed.date_from, parsed.date_to, context.timezone, context.now)
    key = cache_key(parsed, context, dates)
    if cache is not None and not refresh and (hit := cache.get(key)) is not None:
        return replace(hit, cached=True)
    result = _run_once(parsed, context, dates)
    if parsed.compare_to_previous:
        previous = _run_once(parsed, context, dates.previous())
        result = replace(result, previous=previous.result)
    if cache is not None:
        cache.put(key, result)
    return result


def cache_key(spec: InsightSpec, context: QueryContext, dates: DateRange) -> bytes:
    """What a result depends on: the spec and its resolved dates, the caller's access filters, the data
    (warehouse, project, write generation) and the saved cohorts."""
    return orjson.dumps(
        [
            spec.model_dump(mode="json"),
            dates.start.isoformat(),
            dates.end.isoformat(),
            [item.model_dump(mode="json") for item in context.access_filters],
            context.engine.url,
            context.engine.generation,
            context.cohorts.version() if context.cohorts else None,
            context.project,
        ]
    )


def _run_once(spec: InsightSpec, context: QueryContext, dates: DateRange) -> QueryResult:
    started = time.perf_counter()
    runner = runner_class(spec.kind)(spec, context, dates)
    queries = runner.queries()
    compiled = time.perf_counter()
    results = _execute_all(context, queries, runner.parameters)
    executed = time.perf_counter()
    shaped = runner.shape(results)
    finished = time.perf_counter()
    return QueryResult(
        kind=spec.kind,
        result=shaped,
        sql={
            name: context.engine.render(context.engine.bind(query, runner.parameters.values))
            for name, query in queries.items()
        },
        timing_ms={
            "compile": round((compiled - started) * 1000, 3),
            "execute": round((executed - compiled) * 1000, 3),
            "shape": round((finished - executed) * 1000, 3),
        },
        date_from=dates.start,
        date_to=dates.end,
    )


def execute(context: QueryContext, query: exp.Expr, parameters: Parameters) -> pa.Table:
    """Run one compiled query with the parameters and attached tables it refers to."""
    return context.engine.execute(query, _used(query, parameters.values), _read(query, parameters.tables))


# The queries of one question run side by side, one per core, each on a handle of its own: DuckDB plans
# and starts a small query on one thread, so a 10-step funnel's ten step queries one after another left a
# core idle for a third of their time (E10M: 36 ms one after another, 26 ms two at a time).
_QUERY_THREADS = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="sextant-query")


def _execute_all(context: QueryContext, queries: dict[str, exp.Expr], parameters: Parameters) -> dict[str, pa.Table]:
    if len(queries) < 2:
        return {name: execute(context, query, parameters) for name, query in queries.items()}

    def run(query: exp.Expr) -> pa.Table:
        handle = context.engine.cursor()
        try:
            return execute(replace(context, engine=handle), query, parameters)
        finally:
            if handle is not context.engine:  # engines that serialise their callers hand out themselves
                handle.close()

    running = {name: _QUERY_THREADS.submit(run, query) for name, query in queries.items()}
    return {name: future.result() for name, future in running.items()}


def _used(query: exp.Expr, values: dict[str, object]) -> dict[str, object]:
    """The parameters a query refers to (DuckDB refuses extra ones)."""
    names = {placeholder.name for placeholder in query.find_all(exp.Placeholder)}
    return {name: value for name, value in values.items() if name in names}


def _read(query: exp.Expr, tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The attached Arrow tables a query reads."""
    names = {table.name for table in query.find_all(exp.Table)}
    return {name: table for name, table in tables.items() if name in names}
