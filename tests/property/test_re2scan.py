"""The direct RE2 scan finds exactly what the binding's ``finditer`` finds.

:class:`driftaudit.domain.re2scan.Scanner` skips the binding's per-match
offset translation on ASCII text; these properties hold it to the public
``finditer`` on every built-in pattern and the grammar's prefilter, over the
real samples and over generated text (ASCII and not), and hold the public
fallback path to the same answers.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from driftaudit.domain.packs import BUILTIN_PATTERNS
from driftaudit.domain.re2scan import Scanner
from tests.unit.test_false_positive_kpi import corpus

SOURCES = (*(f"(?m){pattern.regex}" for pattern in BUILTIN_PATTERNS), r"\d*", r"(?m)^", r"(a)|(b)", r"x?")
SCANNERS = tuple(Scanner(source) for source in SOURCES)


def _public(scanner: Scanner, text: str) -> list[list[tuple[int, int]]]:
    groups = scanner.regex.groups
    return [[match.span(group) for group in range(groups + 1)] for match in scanner.regex.finditer(text)]


def _fallback(source: str) -> Scanner:
    scanner = Scanner(source)
    scanner._engine = None  # the path taken when the binding's engine is not reachable
    return scanner


def test_direct_scan_equals_finditer_on_every_sample() -> None:
    texts = [sample.text for sample in corpus()]
    assert any(text.isascii() for text in texts)
    for scanner in SCANNERS:
        for text in texts:
            assert list(scanner.spans(text)) == _public(scanner, text), scanner.regex.pattern


def test_the_direct_engine_is_in_use() -> None:
    # otherwise every property here would compare the public path with itself
    assert all(scanner._engine is not None for scanner in SCANNERS)


_LINE = st.text(alphabet=st.sampled_from(list("! #:\t\n0123456789:-Tupimesacodwk,ZBEGINR<>$é")), max_size=120)


@settings(max_examples=300, deadline=None)
@given(_LINE)
def test_direct_scan_equals_finditer_on_generated_text(text: str) -> None:
    for source, scanner in zip(SOURCES, SCANNERS, strict=True):
        expected = _public(scanner, text)
        assert list(scanner.spans(text)) == expected, source
        assert list(_fallback(source).spans(text)) == expected, source
