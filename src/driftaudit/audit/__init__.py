"""Use cases shared by the stream agents, the CLI and the API.

``fetch → normalize → mask → diff`` lives here once, so the Faust agents, the
in-process audit (``driftaudit audit --no-broker``) and the pre-flight check
cannot disagree. Submodules are imported lazily: importing
``driftaudit.audit`` costs nothing and connects to nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    "analyze_outcome": "steps",
    "redact_outcome": "steps",
    "fetch_fleet_configs": "fleet",
    "trigger_fleet_audit": "pipeline",
    "preflight_check": "preflight",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'driftaudit.audit' has no attribute {name!r}") from None
    return getattr(importlib.import_module(f"driftaudit.audit.{module}"), name)
