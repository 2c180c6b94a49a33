"""Where a profiled process spent its CPU, by component, from py-spy's raw (collapsed) stacks.

``py-spy record --format raw`` writes one line per distinct stack,
``frame;frame;...;leaf count``, each frame ``function (file:line)``. A
sample is charged to the innermost frame that belongs to a known component
(the HTTP client, the Kafka client, pydantic, the domain, ...); a sample
whose frames are all the event loop or the standard library is charged to
the innermost driftaudit module on its stack, else to "event loop / other".
Used by the pipeline benchmark when ``DRIFTAUDIT_BENCH_PYSPY`` is set.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

__all__ = ["components"]

#: (component, prefixes of a frame's file as py-spy prints it), innermost match wins, first rule first
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("domain (normalize/mask/diff)", ("driftaudit/domain/", "difflib.py", "re2", "hmac.py")),
    (
        "history sink (chDB)",
        ("chdb", "clickhouse_connect", "driftaudit/adapters/history/", "driftaudit/streams/recorder.py"),
    ),
    ("Faust score table", ("faust/", "driftaudit/streams/scoreboard.py", "driftaudit/streams/score.py")),
    (
        "HTTP client (aiohttp / httpx)",
        ("aiohttp/", "yarl/", "multidict/", "httpx/", "httpcore/", "h11/", "anyio/", "driftaudit/adapters/"),
    ),
    (
        "JSON codec / pydantic",
        ("pydantic/", "pydantic_core/", "json/", "orjson", "driftaudit/streams/codec.py"),
    ),
    ("aiokafka produce/consume", ("aiokafka/", "kafka/")),
    (
        "confirmed delivery / offsets / runner",
        (
            "driftaudit/streams/delivery.py",
            "driftaudit/streams/offsets.py",
            "driftaudit/streams/runner.py",
            "driftaudit/streams/outbox.py",
        ),
    ),
    ("event loop / other", ("driftaudit/streams/runtime.py", "driftaudit/cli/")),
    ("stage logic / completion", ("driftaudit/streams/", "driftaudit/audit/")),
    ("threads (to_thread hand-off)", ("concurrent/", "threading.py")),
    ("logging", ("logging/",)),
)


def _file(frame: str) -> str:
    return frame.rpartition("(")[2].rpartition(":")[0]


def _component(frames: list[str]) -> str:
    for frame in reversed(frames):
        path = _file(frame)
        for name, prefixes in _RULES:
            if path.startswith(prefixes):
                return name
    return "event loop / other"


def components(raw: Path) -> tuple[Counter[str], int]:
    """Samples per component, and the total."""
    counts: Counter[str] = Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        counts[_component(stack.split(";"))] += int(number)
    return counts, sum(counts.values())
