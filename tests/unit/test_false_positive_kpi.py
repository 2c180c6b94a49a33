"""False-positive KPI: re-fetches of an unchanged device are compliant; real changes are all found.

The dataset is every real config in ../shared/samples (configs and pairs, one
device each). For each one, pairs of *re-fetches* are generated: the same
config as a device would print it at two different moments, carrying the churn
real fetches carry: header timestamps in each vendor's format, show-style
comment blocks (uptime, BGP neighbor up/down times, message and prefix
counters, route ages, interface counters), ``Current configuration : N bytes``,
``ntp clock-period``, ASA ``Cryptochecksum``, and re-generated certificate blobs.
None of that is configuration, so with the built-in masking packs no pair may be
reported drifted. Then one real change (a line deleted, changed or added, or a
secret changed) is injected into one side, and every one of them must be found.

The figures are printed: how many pairs a plain text comparison, the
structural diff without masking, and the structural diff with the built-in
packs report drifted.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.masking import CompiledPatterns, MaskingRegistry, mask_content
from driftaudit.domain.models import DriftReport, Platform
from tests.samples_path import CONFIGS, CORPUS, PAIRS, sample_files

KEY = b"kpi-fingerprint-key-0123456789ab"
REFETCH_PAIRS_PER_CONFIG = 3
BUILTIN = MaskingRegistry.builtin(key=KEY)
NO_MASKING = MaskingRegistry([], key=KEY)
PLATFORMS = {platform.value: platform for platform in Platform}
JUNOS = (Platform.JUNOS, Platform.JUNOS_SET)

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Sample:
    name: str
    platform: Platform
    text: str


def corpus() -> list[Sample]:
    samples = []
    for folder in (CONFIGS, PAIRS, CORPUS):
        for path in sample_files(folder):
            platform = PLATFORMS.get(path.parent.name)
            if platform is None or path.suffix in {".yaml", ".json", ".xml"}:
                continue
            samples.append(Sample(str(path.relative_to(path.parents[1])), platform, _read(path)))
    return samples


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


# -- churn: what a re-fetch of an unchanged device looks like ---------------------------------------


def _leader(platform: Platform) -> str:
    return "#" if platform in JUNOS else "!"


def _clock(rng: random.Random) -> str:
    return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"


def _date(rng: random.Random) -> str:
    """A timestamp in one of the vendors' formats."""
    day, month, dom, year = (
        rng.choice(DAYS),
        rng.choice(MONTHS),
        rng.randrange(1, 29),
        rng.randrange(2015, 2027),
    )
    return rng.choice(
        [
            f"{_clock(rng)} UTC {day} {month} {dom} {year}",  # IOS
            f"{day} {month} {dom:>2} {_clock(rng)} {year}",  # NX-OS, IOS-XR
            f"{year}-{rng.randrange(1, 13):02d}-{dom:02d} {_clock(rng)} UTC",  # Junos
            f"{year}-{rng.randrange(1, 13):02d}-{dom:02d}T{_clock(rng)}Z",  # ISO 8601
        ]
    )


def _duration(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{rng.randrange(1, 9)}w{rng.randrange(7)}d",
            f"{rng.randrange(1, 6)}d{rng.randrange(24):02d}h",
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}",
            f"{rng.randrange(1, 50)} weeks, {rng.randrange(7)} days, {rng.randrange(24)} hours, "
            f"{rng.randrange(60)} minutes",
        ]
    )


def _restamp_comments(text: str, platform: Platform, rng: random.Random) -> str:
    """Every time, date and year in existing comment lines gets a new value."""
    leaders = "!#:"

    def restamp(line: str) -> str:
        if not line.lstrip().startswith(tuple(leaders)):
            return line
        line = re.sub(r"\b\d{1,2}:\d{2}:\d{2}\b", lambda _: _clock(rng), line)
        line = re.sub(
            r"\b(?:19|20)\d{2}-\d{2}-\d{2}\b",
            lambda _: f"20{rng.randrange(15, 27)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}",
            line,
        )
        line = re.sub(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b", lambda _: rng.choice(DAYS), line)
        line = re.sub(
            r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b", lambda _: rng.choice(MONTHS), line
        )
        return line

    return "\n".join(restamp(line) for line in text.split("\n"))


def _show_block(platform: Platform, rng: random.Random) -> list[str]:
    """A show-version / BGP / routing block as comments, the way backup tools prepend it."""
    c = _leader(platform)
    peers = [f"10.{rng.randrange(256)}.{rng.randrange(256)}.{n}" for n in (1, 2)]
    lines = [
        f"{c} device uptime is {_duration(rng)}",
        f"{c} System returned to ROM by reload at {_date(rng)}",
        f"{c} Last reset {_date(rng)}",
        f"{c} Neighbor        V    AS MsgRcvd MsgSent   TblVer  InQ OutQ Up/Down  State/PfxRcd",
    ]
    for peer in peers:
        lines.append(
            f"{c} {peer:<15} 4 65001 {rng.randrange(10**6):>7} {rng.randrange(10**6):>7} "
            f"{rng.randrange(10**5):>8}    0    0 {_duration(rng).split(',')[0]:>8} "
            f"{rng.randrange(200000):>12}"
        )
        lines.append(f"{c} BGP neighbor is {peer}, remote AS 65001, up for {_duration(rng)}")
        lines.append(f"{c}   Prefixes received {rng.randrange(900000)}, accepted {rng.randrange(900000)}")
    lines += [
        f"{c} B    10.{rng.randrange(256)}.0.0/16 [20/0] via {peers[0]}, {_duration(rng).split(',')[0]}",
        f"{c} O    192.0.2.0/24 [110/2] via {peers[1]}, {_duration(rng).split(',')[0]}, GigabitEthernet1",
        f"{c} {rng.randrange(10**9)} packets input, {rng.randrange(10**12)} bytes, "
        f"{rng.randrange(99)} no buffer",
        f"{c} {rng.randrange(10**6)} input errors, {rng.randrange(99)} CRC, "
        f"Failover count: {rng.randrange(9)}",
        f"{c} Configuration last saved {_date(rng)} by admin",
    ]
    return lines


def _cisco_headers(text: str, platform: Platform, rng: random.Random) -> str:
    """Non-comment lines a Cisco-family device rewrites on every fetch."""
    size = f"Current configuration : {rng.randrange(1000, 99999)} bytes"
    if re.search(r"^Current configuration\s*:", text, re.MULTILINE):
        text = re.sub(r"^Current configuration\s*:.*$", size, text, flags=re.MULTILINE)
    elif platform in (Platform.IOS, Platform.IOSXR):
        text = f"Building configuration...\n\n{size}\n{text}"
    if platform is Platform.IOS:
        clock = f"ntp clock-period {rng.randrange(17179000, 17180000)}"
        if "ntp clock-period" in text:
            text = re.sub(r"ntp clock-period \d+", clock, text)
        else:
            text = text.rstrip("\n") + f"\n{clock}\n"
    if platform is Platform.ASA:
        checksum = "".join(rng.choice("0123456789abcdef") for _ in range(32))
        text = re.sub(r"^Cryptochecksum:\s*\w+", f"Cryptochecksum:{checksum}", text, flags=re.MULTILINE)
    return text


_HEX_WORD = re.compile(r"\b[0-9A-F]{8}\b")


def _regenerate_certificates(text: str, platform: Platform, rng: random.Random) -> str:
    """A certificate renewed by the device: same shape, new hex; IOS devices without one get one."""
    if platform not in (Platform.IOS, Platform.ASA, Platform.NXOS):
        return text
    lines = text.split("\n")
    inside = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if re.match(r"certificate\b", stripped):
            inside = True
        elif stripped == "quit":
            inside = False
        elif inside:
            lines[index] = _HEX_WORD.sub(lambda _: f"{rng.randrange(16**8):08X}", line)
    text = "\n".join(lines)
    if platform is Platform.IOS and "certificate self-signed" not in text:
        body = "\n".join(
            "  " + " ".join(f"{rng.randrange(16**8):08X}" for _ in range(8))
            for _ in range(rng.randrange(3, 7))
        )
        text = text.rstrip("\n") + (
            "\ncrypto pki certificate chain TP-self-signed-42\n certificate self-signed 01\n"
            f"{body}\n  \tquit\n"
        )
    return text


def refetch(sample: Sample, rng: random.Random) -> str:
    """The sample as one more fetch of the unchanged device would return it."""
    text = _restamp_comments(sample.text, sample.platform, rng)
    if sample.platform not in JUNOS:
        text = _cisco_headers(text, sample.platform, rng)
    text = _regenerate_certificates(text, sample.platform, rng)
    return "\n".join(_show_block(sample.platform, rng)) + "\n" + text


# -- real changes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    kind: str
    removed: str | None
    added: str | None


def _display(line: str, platform: Platform) -> str:
    """How a changed line appears in a drift report."""
    stripped = line.strip()
    if platform in JUNOS and not stripped.startswith("set "):
        stripped = re.sub(r"\s*##.*$", "", stripped)
        stripped = stripped[:-1].rstrip() if stripped.endswith(";") else stripped
    return stripped


def _banner_lines(lines: list[str]) -> set[int]:
    """Indices of banner lines with their bodies, however the platform delimits them."""
    inside: set[int] = set()
    for index, line in enumerate(lines):
        match = re.match(r"banner \S+(?: (.*))?$", line.strip())
        if not match:
            continue
        rest = match.group(1) or ""
        inside.add(index)
        delimiter = "EOF" if not rest else "^C" if rest.startswith("^C") else rest[0]
        if delimiter[0].isalnum() and rest or delimiter in rest[len(delimiter) :]:
            continue  # ASA one-line banners, `banner motd ^Chello^C`
        for probe in range(index + 1, len(lines)):
            inside.add(probe)
            if delimiter in lines[probe]:
                break
    return inside


def _candidates(text: str, patterns: CompiledPatterns, platform: Platform) -> list[int]:
    """Configuration lines that masking leaves untouched (changing them must be drift)."""
    masked = set(mask_content(text, patterns).split("\n"))
    out = []
    in_banner = _banner_lines(text.split("\n"))
    for index, line in enumerate(text.split("\n")):
        stripped = line.strip()
        if index in in_banner:  # a banner is text shown as it is, not configuration lines
            continue
        if not stripped or stripped[0] in "!#:" or line not in masked:
            continue
        if re.fullmatch(r"end|exit(?:-\S+)?|quit|\^C|\^|EOF|[{}]", stripped) or "^C" in stripped:
            continue
        if platform is Platform.JUNOS and (not stripped.endswith(";") or "[" in stripped):
            continue
        if platform is Platform.JUNOS_SET and not stripped.startswith("set "):
            continue
        out.append(index)
    return out


def _mutate(line: str) -> str:
    body, semicolon = (line[:-1], ";") if line.endswith(";") else (line, "")
    digits = list(re.finditer(r"\d", body))
    if digits:
        last = digits[-1]
        body = body[: last.start()] + str((int(last.group()) + 1) % 10) + body[last.end() :]
    else:
        body = body + "-x"
    return body + semicolon


KINDS = ("delete", "change", "add", "secret")


def inject_change(
    text: str, sample: Sample, patterns: CompiledPatterns, kind: str, rng: random.Random
) -> tuple[str, Change] | None:
    """One real change of ``kind`` in ``text`` (None when the config has no secret to change)."""
    lines = text.split("\n")
    if kind == "secret":
        secret_lines = [
            i
            for i, line in enumerate(lines)
            if not line.lstrip().startswith(("!", "#", ":"))  # a comment is not configuration
            and "<secret:" in (masked := mask_content(line, patterns))
            and "<secret:ignored" not in masked
        ]
        if not secret_lines:
            return None
        index = rng.choice(secret_lines)
        line = lines[index]
        # masked = prefix + token + suffix, line = prefix + value + suffix: change the value
        masked = mask_content(line, patterns)
        token = re.search(r"<secret:[0-9a-f]+>", masked)
        assert token is not None
        end = len(line) - (len(masked) - token.end())
        changed = line[: end - 1] + ("Q" if line[end - 1] != "Q" else "R") + line[end:]
        return "\n".join([*lines[:index], changed, *lines[index + 1 :]]), Change("secret", None, None)
    index = rng.choice(_candidates(text, patterns, sample.platform))
    line = lines[index]
    indent = line[: len(line) - len(line.lstrip())]
    if kind == "delete":
        return "\n".join(lines[:index] + lines[index + 1 :]), Change(
            kind, _display(line, sample.platform), None
        )
    if kind == "add":
        if sample.platform is Platform.JUNOS_SET:
            new = f"set apply-groups drift-probe-{rng.randrange(10**6)}"
        elif sample.platform is Platform.JUNOS:
            new = f"{indent}apply-groups drift-probe-{rng.randrange(10**6)};"
        else:
            new = f"{indent}description drift-probe-{rng.randrange(10**6)}"
        return "\n".join([*lines[:index], new, *lines[index:]]), Change(
            kind, None, _display(new, sample.platform)
        )
    new = _mutate(line)
    changed_text = "\n".join([*lines[:index], new, *lines[index + 1 :]])
    return changed_text, Change(kind, _display(line, sample.platform), _display(new, sample.platform))


def found(report: DriftReport, change: Change) -> bool:
    if report.compliant:
        return False
    if change.kind == "secret":
        return any("<secret:" in line.line for line in (*report.added, *report.removed))
    removed_ok = change.removed is None or any(line.line == change.removed for line in report.removed)
    added_ok = change.added is None or any(line.line == change.added for line in report.added)
    return removed_ok and added_ok


# -- the KPI ----------------------------------------------------------------------------------------


def _diff(actual: str, intended: str, registry: MaskingRegistry, platform: Platform) -> DriftReport:
    return calculate_diff(actual, intended, registry.for_platform(platform), platform=platform)


def test_false_positive_kpi(capsys: pytest.CaptureFixture[str]) -> None:
    samples = corpus()
    assert len(samples) >= 20, "the shared samples are missing"
    rng = random.Random(20260101)
    rows: dict[Platform, list[int]] = {}
    false_positives: list[str] = []
    missed: list[str] = []
    for sample in samples:
        patterns = BUILTIN.for_platform(sample.platform)
        for _ in range(REFETCH_PAIRS_PER_CONFIG):
            earlier, later = refetch(sample, rng), refetch(sample, rng)
            row = rows.setdefault(sample.platform, [0] * 7)
            row[0] += 1
            row[1] += earlier != later
            row[2] += not _diff(later, earlier, NO_MASKING, sample.platform).compliant
            masked = _diff(later, earlier, BUILTIN, sample.platform)
            if not masked.compliant:
                row[3] += 1
                false_positives.append(f"{sample.name}: +{masked.added[:2]} -{masked.removed[:2]}")
            for kind in KINDS:
                injected = inject_change(later, sample, patterns, kind, rng)
                if injected is None:
                    continue
                changed, change = injected
                row[4] += 1
                row[6] += kind == "secret"
                if found(_diff(changed, earlier, BUILTIN, sample.platform), change):
                    row[5] += 1
                else:
                    missed.append(f"{sample.name}: {change}")

    with capsys.disabled():
        header = (
            "platform",
            "pairs",
            "text differs",
            "drift no mask",
            "drift masked",
            "changes",
            "found",
            "secret",
        )
        print("\n\nfalse-positive KPI over re-fetches of the real sample configs")
        print("  ".join(f"{h:>14}" for h in header))
        totals = [0] * 7
        for platform, row in sorted(rows.items()):
            totals = [a + b for a, b in zip(totals, row, strict=True)]
            print("  ".join([f"{platform.value:>14}", *(f"{value:>14}" for value in row)]))
        print("  ".join([f"{'total':>14}", *(f"{value:>14}" for value in totals)]))
        print(
            f"false positives: {totals[3]}/{totals[0]} with the built-in packs "
            f"(structural diff without masking: {totals[2]}, plain text comparison: {totals[1]}); "
            f"real changes found: {totals[5]}/{totals[4]}\n"
        )
    assert false_positives == []
    assert missed == []
    assert totals[2] > 0, "the churn must be something masking has to remove"
    assert totals[6] > 0, "secret changes must be among the injected changes"


def _cisco7(password: str, salt: int) -> str:
    xlat = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"
    return f"{salt:02d}" + "".join(
        f"{ord(c) ^ ord(xlat[(salt + i) % len(xlat)]):02X}" for i, c in enumerate(password)
    )


def test_resalted_reversible_secret_is_not_drift() -> None:
    base = "hostname r1\nusername probe privilege 15 password 7 {}\nline vty 0 4\n password 7 {}\n"
    earlier = base.format(_cisco7("S3cret!pw", 3), _cisco7("vtypass", 5))
    later = base.format(_cisco7("S3cret!pw", 11), _cisco7("vtypass", 9))
    assert earlier != later
    assert _diff(later, earlier, BUILTIN, Platform.IOS).compliant
