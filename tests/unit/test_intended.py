"""DirectoryIntendedSource: lazy cached reads, reload, and no path traversal."""

from pathlib import Path

import pytest

from driftaudit.adapters.intended import DirectoryIntendedSource
from driftaudit.domain.errors import ConfigurationError, InputError
from driftaudit.domain.ports import IntendedConfigSource


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    root = tmp_path / "intended"
    root.mkdir()
    (root / "r1.cfg").write_text("hostname r1\n")
    (root / "site-a").mkdir()
    (root / "site-a" / "r2.cfg").write_text("hostname r2\n")
    (tmp_path / "secret.cfg").write_text("outside\n")
    return root


def test_reads_device_files(directory: Path) -> None:
    source = DirectoryIntendedSource(directory)
    assert isinstance(source, IntendedConfigSource)
    assert source.get_intended("r1") == "hostname r1\n"
    assert source.get_intended("site-a/r2") == "hostname r2\n"
    assert source.get_intended("absent") is None


def test_changes_are_seen_without_reload(directory: Path) -> None:
    """A golden-config update is used at the next lookup: no restart, no ``reload()``."""
    source = DirectoryIntendedSource(directory)
    assert source.get_intended("r1") == "hostname r1\n"
    assert source.get_intended("new") is None
    (directory / "r1.cfg").write_text("hostname changed, longer\n")
    (directory / "new.cfg").write_text("hostname new\n")
    assert source.get_intended("r1") == "hostname changed, longer\n"
    assert source.get_intended("new") == "hostname new\n"
    source.reload()
    assert source.get_intended("r1") == "hostname changed, longer\n"


def test_nothing_read_before_asked(directory: Path) -> None:
    source = DirectoryIntendedSource(directory)
    (directory / "r1.cfg").write_text("hostname later\n")
    assert source.get_intended("r1") == "hostname later\n"


@pytest.mark.parametrize(
    "device_id",
    ["../secret", "site-a/../../secret", "/etc/passwd", "..", "a\\..\\..\\secret", "r1\x00", "", "./r1"],
)
def test_ids_cannot_escape_the_directory(directory: Path, device_id: str) -> None:
    source = DirectoryIntendedSource(directory)
    with pytest.raises(InputError):
        source.get_intended(device_id)


def test_undecodable_file_is_a_configuration_error(directory: Path) -> None:
    (directory / "bin.cfg").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigurationError, match="bin.cfg"):
        DirectoryIntendedSource(directory).get_intended("bin")


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        DirectoryIntendedSource(tmp_path / "nope")
