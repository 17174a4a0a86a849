"""The OpenAPI 3.1 document of the dashboard's JSON (served at ``/openapi.json``)."""

from __future__ import annotations

from .dashboard import ENTITY_KINDS, PANELS
from .view import RANGES, UNITS

_ERROR = {
    "description": "one-line error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            }
        }
    },
}


def _ok(description: str, schema: dict | None = None) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or {"type": "object"}}},
    }


_VIEW_PARAMS = [
    {
        "name": "range",
        "in": "query",
        "description": "Time range back from the newest record (ignored when from/to are given).",
        "schema": {"type": "string", "enum": list(RANGES)},
    },
    {
        "name": "from",
        "in": "query",
        "description": "Start of a custom range: ISO-8601 or Unix seconds.",
        "schema": {"type": "string"},
    },
    {
        "name": "to",
        "in": "query",
        "description": "End of a custom range (exclusive): ISO-8601 or Unix seconds.",
        "schema": {"type": "string"},
    },
    {
        "name": "unit",
        "in": "query",
        "description": "What the charts measure.",
        "schema": {"type": "string", "enum": list(UNITS)},
    },
    {
        "name": "f",
        "in": "query",
        "description": "A filter FIELD=VALUE or FIELD!=VALUE (repeatable).",
        "schema": {"type": "array", "items": {"type": "string", "pattern": "^[a-z_0-9]+!?=.*$"}},
        "style": "form",
        "explode": True,
    },
]

_VIEW = {
    "type": "object",
    "properties": {
        "from": {"type": ["string", "null"]},
        "to": {"type": ["string", "null"]},
        "range": {"type": ["string", "null"]},
        "unit": {"type": "string", "enum": list(UNITS)},
        "filters": {"type": "array", "items": {"type": "string"}},
    },
}
_PANEL = {
    "type": "object",
    "required": ["panel", "view", "reads"],
    "properties": {
        "panel": {"type": "string", "enum": list(PANELS)},
        "view": _VIEW,
        "reads": {
            "type": "array",
            "items": {"type": "string"},
            "description": "the relations that answered it: a rollup (rollup_NAME) or the "
            "records (vpc_flow_logs)",
        },
    },
}
_CONSOLE_PARAMS = [
    {
        "name": "language",
        "in": "query",
        "schema": {"type": "string", "enum": ["sql", "insights"]},
    },
    {"name": "dialect", "in": "query", "schema": {"type": "string", "enum": ["athena", "duckdb"]}},
    {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
]
_CONSOLE = {
    "type": "object",
    "required": ["columns", "rows", "truncated"],
    "properties": {
        "columns": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": {"type": "object"}},
        "truncated": {"type": "boolean"},
        "row_limit": {"type": ["integer", "null"]},
        "time_limit": {"type": ["number", "null"]},
        "sql": {"type": "string"},
    },
}


def _get(summary: str, params: list, ok: dict, *, errors=(400,)) -> dict:
    responses = {"200": ok}
    for e in errors:
        responses[str(e)] = _ERROR
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


def openapi_document() -> dict:
    from .. import __version__

    paths = {
        "/overview.json": _get(
            "Every overview panel",
            _VIEW_PARAMS,
            _ok("panels by name", {"type": "object", "required": ["view", "panels"]}),
        ),
        "/panels/{name}.json": _get(
            "One chart's data",
            [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(PANELS)},
                },
                {
                    "name": "n",
                    "in": "query",
                    "description": "top N",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                },
                *_VIEW_PARAMS,
            ],
            _ok("the panel", _PANEL),
            errors=(400, 404),
        ),
        "/flows.json": _get(
            "The records of the view, newest first, paged",
            [
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {
                    "name": "size",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
                *_VIEW_PARAMS,
            ],
            _ok(
                "a page of records",
                {
                    "type": "object",
                    "required": ["rows", "total", "page", "size", "sql"],
                    "properties": {
                        "rows": {"type": "array", "items": {"type": "object"}},
                        "total": {"type": "integer"},
                        "page": {"type": "integer"},
                        "size": {"type": "integer"},
                        "pages": {"type": "integer"},
                        "sql": {"type": "string"},
                        "view": _VIEW,
                    },
                },
            ),
        ),
        "/findings.json": _get(
            "The detectors' findings in the view",
            _VIEW_PARAMS,
            _ok(
                "findings, most urgent first",
                {
                    "type": "object",
                    "required": ["findings"],
                    "properties": {"findings": {"type": "array", "items": {"type": "object"}}},
                },
            ),
        ),
        "/rejected.json": _get(
            "Why traffic was rejected: verdicts by subnet and interface",
            _VIEW_PARAMS,
            _ok(
                "verdict groups",
                {
                    "type": "object",
                    "required": ["groups", "totals"],
                    "properties": {
                        "groups": {"type": "array", "items": {"type": "object"}},
                        "totals": {"type": "object"},
                        "configurations": {"type": "boolean"},
                    },
                },
            ),
        ),
        "/{kind}/{value}.json": _get(
            "An entity page: an address, interface, instance or subnet",
            [
                {
                    "name": "kind",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(ENTITY_KINDS)},
                },
                {"name": "value", "in": "path", "required": True, "schema": {"type": "string"}},
                *_VIEW_PARAMS,
            ],
            _ok("the entity's panels and findings"),
            errors=(400, 404),
        ),
        "/info.json": _get("The store: time covered, files, limits", [], _ok("store facts")),
        "/queries.json": _get(
            "The named queries; with name (and p=K=V values) that one, rendered",
            [
                {"name": "name", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "p",
                    "in": "query",
                    "schema": {"type": "array", "items": {"type": "string"}},
                    "style": "form",
                    "explode": True,
                },
            ],
            _ok("named queries", {"type": ["array", "object"]}),
        ),
        "/query.json": {
            **_get(
                "Run a console query (Athena or DuckDB SQL, Logs Insights)",
                _CONSOLE_PARAMS,
                _ok("the result, at most the row limit", _CONSOLE),
                errors=(400, 403),
            ),
            "post": {
                "summary": "Run a console query given as JSON",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["q"],
                                "properties": {
                                    "language": {"type": "string", "enum": ["sql", "insights"]},
                                    "dialect": {"type": "string", "enum": ["athena", "duckdb"]},
                                    "q": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _ok("the result", _CONSOLE),
                    "400": _ERROR,
                    "403": _ERROR,
                },
            },
        },
        "/query.csv": {
            "get": {
                "summary": "A console query's result as CSV",
                "parameters": _CONSOLE_PARAMS,
                "responses": {
                    "200": {"description": "CSV", "content": {"text/csv": {"schema": {}}}},
                    "400": _ERROR,
                    "403": _ERROR,
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vpcflow dashboard",
            "version": __version__,
            "description": "The JSON twin of every page and chart of `vpcflow serve`.",
        },
        "paths": paths,
    }
