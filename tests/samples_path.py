"""Where the shared real-world samples live: ``../shared/samples`` beside the repo."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = REPO_ROOT.parent / "shared" / "samples"
CONFIGS = SAMPLES / "configs"
PAIRS = SAMPLES / "pairs"
ENVELOPES = SAMPLES / "envelopes"


def sample_files(folder: Path) -> list[Path]:
    """Every sample file under ``folder``, sorted, so test ids are stable."""
    return sorted(p for p in folder.rglob("*") if p.is_file())


#: Real configs added by the masking work (tests/corpus, sources in its SOURCES.md).
CORPUS = REPO_ROOT / "tests" / "corpus"
