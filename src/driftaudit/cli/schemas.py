"""``driftaudit schemas``: the JSON Schemas of the wire contracts, for producers and consumers.

Teams that publish audit requests or consume drift events in another
language validate against these files instead of reading our Python. The
output is deterministic (sorted keys, fixed order), so the files can be
committed and a contract change shows up as a diff in review.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from driftaudit.domain.models import (
    AuditRequest,
    AuditStatus,
    DeadLetter,
    DeviceConfig,
    DeviceFetchTask,
    DriftEvent,
)
from driftaudit.streams.score import ScoreBatch, ScoreObservation

__all__ = ["TOPIC_CONTRACTS", "WIRE_CONTRACTS", "register", "schema_documents", "write_schemas"]

#: The models that travel on the topics, in pipeline order.
WIRE_CONTRACTS: tuple[type[BaseModel], ...] = (
    AuditRequest,
    DeviceFetchTask,
    DeviceConfig,
    DriftEvent,
    DeadLetter,
    AuditStatus,
    ScoreObservation,  # internal topic score-input: published so every message on every topic has one
    ScoreBatch,  # what score-input carries: the report stage batches (a single observation is still read)
)

#: Topic (without the prefix) -> the model of its message values.
TOPIC_CONTRACTS: dict[str, type[BaseModel]] = {
    "audit-requests": AuditRequest,
    "device-fetch": DeviceFetchTask,
    "device-configs": DeviceConfig,
    "drift-events": DriftEvent,
    "dead-letter": DeadLetter,
    "score-input": ScoreBatch,
    "audit-status": AuditStatus,
}

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_documents() -> dict[str, dict[str, Any]]:
    """Each wire contract's JSON Schema (draft 2020-12), keyed by model name."""
    documents: dict[str, dict[str, Any]] = {}
    for model in WIRE_CONTRACTS:
        schema = model.model_json_schema(mode="validation")
        documents[model.__name__] = {"$schema": _DIALECT, **schema}
    return documents


def write_schemas(out: Path) -> list[Path]:
    """Write ``<Name>.schema.json`` for every wire contract into ``out`` (created if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in schema_documents().items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


def schemas(
    out: Annotated[Path, typer.Option("--out", help="Directory to write <Name>.schema.json into.")] = Path(
        "schemas"
    ),
) -> None:
    """Write the JSON Schemas of the wire contracts (topics' message values)."""
    try:
        written = write_schemas(out)
    except OSError as exc:
        typer.echo(f"cannot write schemas to {out}: {exc.strerror or type(exc).__name__}", err=True)
        raise typer.Exit(code=1) from exc
    for path in written:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add the ``schemas`` command to the ``driftaudit`` app."""
    app.command("schemas")(schemas)
