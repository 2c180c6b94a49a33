"""False positives, false negatives and leaked secrets over the whole real corpus, with variants.

The corpus is every real config: ``../shared/samples`` (configs and pairs) and
``tests/corpus`` (sources in its SOURCES.md). For each config:

* **compliant variants** (counted where the config has something to vary),
  as the same unchanged device produces them: the
  re-fetch churn of the false-positive KPI (timestamps, show blocks,
  certificates regenerated...), CRLF line ends and trailing blanks, two
  unordered blocks swapped (interfaces, Junos interface statements), and
  every type 7 value re-salted with Cisco's own encoder. Each must compare
  compliant with the original: anything else is a **false positive**.
* **drifted variants**, one real change each: an ACL entry, a route-map entry,
  an interface address, an added server, a changed secret (community, key or
  hash), a removed nested line, two ordered entries swapped. Each must be
  reported drifted: anything else is a **false negative**.
* **leaked secrets**: every secret read off by hand (``KNOWN_SECRETS`` of the
  sample tests and ``tests/corpus/secrets.tsv``) must be absent from the masked
  and the redacted text of every variant, and from every drift line and
  unified diff.

The three counts are printed (``make test`` shows them) and must all be 0.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.masking import MaskingRegistry, mask_content, redact_secrets
from driftaudit.domain.models import Platform
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.domain.reversible import decode_cisco7, encode_cisco7
from tests.samples_path import CORPUS
from tests.unit.test_false_positive_kpi import Sample, corpus, refetch
from tests.unit.test_samples_masking import KNOWN_SECRETS

KEY = b"corpus-kpi-key"
REGISTRY = MaskingRegistry.builtin(key=KEY)
NORMALIZER = ConfigNormalizer()
JUNOS = (Platform.JUNOS, Platform.JUNOS_SET)
_TYPE7 = re.compile(r"(?<=\s)(?:7|encrypted)\s+\"?(\d{2}[0-9A-Fa-f]{4,})\"?(?=\s|$)", re.M)


def _known_secrets() -> dict[str, list[str]]:
    """File name -> secrets that must never leave the process."""
    found: dict[str, list[str]] = {}
    for name, secret in KNOWN_SECRETS:
        found.setdefault(name, []).append(secret)
    for row in (CORPUS / "secrets.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        path, secret = row.split("\t", 1)
        found.setdefault(path.rsplit("/", 1)[-1], []).append(secret)
    return found


# -- compliant variants ---------------------------------------------------------------------------


def _crlf_and_blanks(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    return "\r\n".join(line + (" " * rng.randrange(1, 4) if rng.random() < 0.3 else "") for line in lines)


def _swap_unordered(text: str, platform: Platform, rng: random.Random) -> str:
    """Two blocks the platform treats as unordered, swapped."""
    if platform is Platform.JUNOS:
        return text
    lines = text.split("\n")
    if platform is Platform.JUNOS_SET:
        picks = [i for i, line in enumerate(lines) if line.startswith(("set interfaces ", "set system "))]
        if len(picks) >= 2:
            a, b = rng.sample(picks, 2)
            lines[a], lines[b] = lines[b], lines[a]
        return "\n".join(lines)
    starts = [i for i, line in enumerate(lines) if re.match(r"interface \S+$", line)]
    blocks = []
    for start in starts:
        end = start + 1
        while end < len(lines) and lines[end][:1] in (" ", "\t"):
            end += 1
        blocks.append((start, end))
    if len(blocks) < 2:
        return text
    (a0, a1), (b0, b1) = sorted(rng.sample(blocks, 2))
    return "\n".join(lines[:a0] + lines[b0:b1] + lines[a1:b0] + lines[a0:a1] + lines[b1:])


def _resalt_type7(text: str, rng: random.Random) -> str:
    def resalt(match: re.Match[str]) -> str:
        value = match.group(1)
        plain = decode_cisco7(value)
        if plain is None or not plain.isprintable():
            return match.group(0)
        salt = (int(value[:2]) + 1 + rng.randrange(14)) % 16
        return match.group(0).replace(value, encode_cisco7(plain, salt))

    return _TYPE7.sub(resalt, text)


def _churn(sample: Sample, rng: random.Random) -> str:
    return refetch(sample, rng)


COMPLIANT: dict[str, Callable[[Sample, random.Random], str]] = {
    "re-fetch churn": _churn,
    "CRLF and trailing blanks": lambda s, rng: _crlf_and_blanks(s.text, rng),
    "unordered blocks swapped": lambda s, rng: _swap_unordered(s.text, s.platform, rng),
    "type 7 re-salted": lambda s, rng: _resalt_type7(s.text, rng),
}


# -- drifted variants -----------------------------------------------------------------------------


def _bump(line: str) -> str:
    digits = list(re.finditer(r"\d", line))
    if not digits:
        return line + "-drift"
    last = digits[-1]
    return line[: last.start()] + str((int(last.group()) + 1) % 10) + line[last.end() :]


def _edit(text: str, pattern: str, rng: random.Random, how: Callable[[list[str], int], None]) -> str | None:
    lines = text.split("\n")
    picks = [
        i for i, line in enumerate(lines) if re.search(pattern, line) and not line.lstrip().startswith("!")
    ]
    if not picks:
        return None
    how(lines, rng.choice(picks))
    return "\n".join(lines)


def _change(lines: list[str], index: int) -> None:
    lines[index] = _bump(lines[index])


def _remove(lines: list[str], index: int) -> None:
    del lines[index]


def _added_server(sample: Sample, rng: random.Random) -> str:
    if sample.platform is Platform.JUNOS_SET:
        return sample.text.rstrip("\n") + "\nset system ntp server 192.0.2.123\n"
    if sample.platform is Platform.JUNOS:
        return sample.text.rstrip("\n") + "\nsystem {\n    ntp {\n        server 192.0.2.123;\n    }\n}\n"
    return sample.text.rstrip("\n") + "\nntp server 192.0.2.123\n"


def _changed_secret(sample: Sample, rng: random.Random) -> str | None:
    patterns = REGISTRY.for_platform(sample.platform)
    lines = sample.text.split("\n")
    picks = []
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("!", "#")):
            continue
        masked = mask_content(line, patterns)
        token = re.search(r"<secret:[0-9a-f]+>", masked)
        if token:
            picks.append((index, len(masked) - token.end()))
    if not picks:
        return None
    index, tail = rng.choice(picks)
    line = lines[index]
    end = len(line) - tail
    lines[index] = line[: end - 1] + ("Q" if line[end - 1] != "Q" else "R") + line[end:]
    return "\n".join(lines)


def _swap_ordered(sample: Sample, rng: random.Random) -> str | None:
    lines = sample.text.split("\n")
    pairs = [
        i
        for i in range(len(lines) - 1)
        if re.match(r"access-list \S+ (?:permit|deny) ", lines[i])  # no sequence number: order is meaning
        and lines[i].split()[:2] == lines[i + 1].split()[:2]
        and lines[i] != lines[i + 1]
        and "remark" not in lines[i] + lines[i + 1]
    ]
    if not pairs:
        return None
    i = rng.choice(pairs)
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return "\n".join(lines)


DRIFTED: dict[str, Callable[[Sample, random.Random], str | None]] = {
    "ACL entry": lambda s, rng: _edit(
        s.text, r"access-list \S+ (?:\d+ )?(?:permit|deny)|^\s+\d+ (?:permit|deny)", rng, _change
    ),
    "route-map entry": lambda s, rng: _edit(
        s.text, r"^route-map \S+ (?:permit|deny) \d+|^ (?:set|match) ", rng, _change
    ),
    "interface address": lambda s, rng: _edit(
        s.text,
        r"^\s+ipv?[46]? address \d|^\s+ip address \d|family inet address \d|^\s+address \d",
        rng,
        _change,
    ),
    "added server": _added_server,
    "changed secret": _changed_secret,
    "removed nested line": lambda s, rng: (
        None if s.platform is Platform.JUNOS_SET else _edit(s.text, r"^\s+[a-z]\S*\s+\S", rng, _remove)
    ),
    "ordered entries swapped": _swap_ordered,
}


@dataclass
class Tally:
    pairs: int = 0
    false_positives: int = 0
    changes: int = 0
    false_negatives: int = 0
    leaks: int = 0


def _leaks(outputs: list[str], secrets: list[str]) -> list[str]:
    return [secret for secret in secrets for output in outputs if secret in output]


def test_corpus_false_positives_false_negatives_and_leaks(capsys: pytest.CaptureFixture[str]) -> None:
    samples = corpus()
    assert len([s for s in samples if "batfish_" in s.name or "netutils_" in s.name]) >= 40
    secrets = _known_secrets()
    rng = random.Random(20261201)
    tallies: dict[str, Tally] = {name: Tally() for name in (*COMPLIANT, *DRIFTED)}
    problems: list[str] = []
    for sample in samples:
        patterns = REGISTRY.for_platform(sample.platform)
        original = NORMALIZER.normalize_text(sample.text)
        known = secrets.get(sample.name.rsplit("/", 1)[-1], [])
        for name, make in COMPLIANT.items():
            raw = make(sample, rng)
            if raw == sample.text:
                continue  # nothing of this kind in the config (no type 7 value, no two interfaces)
            variant = NORMALIZER.normalize_text(raw)
            # a re-fetch adds header lines the stored sample lacks: it compares with another re-fetch
            baseline = NORMALIZER.normalize_text(refetch(sample, rng)) if make is _churn else original
            tally = tallies.setdefault(name, Tally())
            tally.pairs += 1
            report = calculate_diff(variant, baseline, patterns, platform=sample.platform)
            if not report.compliant:
                tally.false_positives += 1
                problems.append(f"FP {name} {sample.name}: +{report.added[:2]} -{report.removed[:2]}")
            leaked = _leaks([mask_content(variant, patterns), redact_secrets(variant, patterns)], known)
            tally.leaks += len(leaked)
            problems += [f"LEAK {name} {sample.name}: {secret}" for secret in leaked]
        for name, make in DRIFTED.items():
            changed = make(sample, rng)
            if changed is None or changed == sample.text:
                continue
            variant = NORMALIZER.normalize_text(changed)
            tally = tallies.setdefault(name, Tally())
            tally.changes += 1
            report = calculate_diff(variant, original, patterns, platform=sample.platform)
            if report.compliant:
                tally.false_negatives += 1
                problems.append(f"FN {name} {sample.name}")
            shown = [line.line for line in (*report.added, *report.removed)] + [report.unified_diff]
            leaked = _leaks([*shown, redact_secrets(variant, patterns)], known)
            tally.leaks += len(leaked)
            problems += [f"LEAK {name} {sample.name}: {secret}" for secret in leaked]
    total = Tally(
        pairs=sum(t.pairs for t in tallies.values()),
        false_positives=sum(t.false_positives for t in tallies.values()),
        changes=sum(t.changes for t in tallies.values()),
        false_negatives=sum(t.false_negatives for t in tallies.values()),
        leaks=sum(t.leaks for t in tallies.values()),
    )
    with capsys.disabled():
        print(f"\n\ncorpus KPI over {len(samples)} real configs and their variants")
        print(f"{'variant':26} {'pairs':>6} {'false pos':>10} {'changes':>8} {'false neg':>10} {'leaks':>6}")
        for name, t in tallies.items():
            print(
                f"{name:26} {t.pairs:>6} {t.false_positives:>10} {t.changes:>8}"
                f" {t.false_negatives:>10} {t.leaks:>6}"
            )
        print(
            f"false positives: {total.false_positives}/{total.pairs}, false negatives: "
            f"{total.false_negatives}/{total.changes}, leaked secrets: {total.leaks}\n"
        )
    assert problems == []
    assert total.changes >= 5 * len(samples) // 2, "too few drifted variants were generated"
