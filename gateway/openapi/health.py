"""Liveness, readiness, metrics, this document and the gateway's public keys: for probes, scrapers
and providers, without a key."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import Schema, error, json_body, ref

SCHEMAS: dict[str, Schema] = {
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "ok"}},
    },
    "Readiness": {
        "type": "object",
        "required": ["status", "schema_revision", "pending_contract", "change_feed"],
        "properties": {
            "status": {"const": "ready"},
            "schema_revision": {"type": "string", "description": "The database's revision."},
            "pending_contract": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Contract steps not yet applied (`gateway migrate --contract`); "
                "empty at the head.",
            },
            "change_feed": {
                "type": "object",
                "required": ["listening", "since"],
                "properties": {
                    "listening": {"type": "boolean"},
                    "since": {"type": "string", "format": "date-time"},
                },
                "description": "The process's change feed (its one LISTEN connection): whether it "
                "listens, and since when it has, or has not. While it does not, the process "
                "stays ready and serves correctly, but its proxy's caches are off: every proxied "
                "call reads the database.",
            },
            "process": {
                "type": "object",
                "required": ["slot", "of", "pid"],
                "properties": {
                    "slot": {"type": "integer", "minimum": 1},
                    "of": {"type": "integer", "minimum": 1},
                    "pid": {"type": "integer"},
                },
                "description": "Under `gateway serve --workers N` only: which of the N serving "
                "processes answered (its slot, 1..N, kept by a replacement) and its process id.",
            },
        },
    },
}

PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "summary": "Liveness",
            "security": [],
            "responses": {"200": json_body(ref("Health"), "Up.")},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: the database answers and its schema is current (or lacks only "
            "contract steps)",
            "security": [],
            "responses": {
                "200": json_body(ref("Readiness"), "Ready."),
                "503": error(
                    "Not ready: the database cannot be reached, or its schema is not this "
                    "version's (details.database_revision, details.required_revision).",
                    "database_unavailable",
                    "schema_outdated",
                ),
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics: this process's counters (under `serve --workers`, "
            "summed over its processes) and the cluster's gauges, read from the database at most "
            "once per GATEWAY_METRICS_CLUSTER_SECONDS",
            "security": [],
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format 0.0.4; also while the "
                    "database is down (the counters, and the cluster's gauges as last read: "
                    "gateway_cluster_gauges_age_seconds says how long ago).",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
            },
        }
    },
    "/.well-known/jwks.json": {
        "get": {
            "summary": "The public keys of the gateway's private_key_jwt client authentication "
            "(RFC 7517), for providers that fetch them; also on the public listener",
            "security": [],
            "responses": {
                "200": json_body(
                    {
                        "type": "object",
                        "required": ["keys"],
                        "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
                    },
                    "A JWK Set: public keys only, each with kid, alg and use.",
                )
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {
                "200": json_body(
                    {"type": "object", "required": ["openapi", "paths"]}, "OpenAPI 3.1."
                )
            },
        }
    },
}
