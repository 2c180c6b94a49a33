"""The domain stays pure: it imports nothing of adapters, streams or I/O libraries."""

import ast
from pathlib import Path

import driftaudit.domain

FORBIDDEN = (
    "driftaudit.adapters",
    "driftaudit.streams",
    "driftaudit.sim",
    "driftaudit.audit",
    "driftaudit.api",
    "driftaudit.cli",
    "faust",
    "httpx",
    "asyncssh",
    "clickhouse",
    "clickhouse_connect",
    "chdb",
    "aiokafka",
    "asyncio",
    "socket",
    "subprocess",
)


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_domain_imports_nothing_impure() -> None:
    root = Path(driftaudit.domain.__file__).parent
    offenders = [
        f"{path.relative_to(root)}: {name}"
        for path in sorted(root.rglob("*.py"))
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    ]
    assert offenders == []


def test_the_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import httpx\nfrom driftaudit.adapters.nms import client\n")
    assert _imports(bad) == ["httpx", "driftaudit.adapters.nms"]
