r"""Masking: volatile values become placeholders, secrets become keyed fingerprints.

Every pattern is compiled with RE2 (``google-re2``), so no pattern, built-in or
from an operator's file, can make masking super-linear; RE2 refuses
lookarounds and backreferences, and such a pattern is rejected with a
:class:`MaskingPatternError` naming it.

Matching rules a pattern author must know:

* ``^`` and ``$`` match at line boundaries (every pattern runs in multi-line
  mode); ``.`` never crosses a line break, so a multi-line span must say
  ``\\n`` (or ``[\\s\\S]``) explicitly.
* The span masked is the named group ``value`` when present, else the whole
  match. A volatile span that ends with a line break is removed with it (the
  line is dropped); any other span becomes ``<volatile:NAME>``, so the line
  stays and the rest of it still compares.
* A secret becomes ``<secret:FINGERPRINT>``, the first 12 hex digits of
  HMAC-SHA256(key, value): a changed secret is still drift, the value never
  leaves the process. Reversible encodings (Cisco type 7, Junos ``$9$``) are
  decoded first, so the same password re-encoded with a new salt keeps its
  fingerprint (see :mod:`driftaudit.domain.reversible`). With ``ignore_changes`` it becomes the constant
  ``<secret:ignored:NAME>`` instead.
* Secrets by vendor grammar come first (:mod:`driftaudit.domain.secrets_grammar`:
  the value after a secret keyword, its encryption-type marker kept; a value
  after ``7`` or ``encrypted`` is decoded as type 7 before fingerprinting),
  then the secret patterns, then the volatile ones.
* Secrets are masked before volatiles, so :func:`redact_secrets` is exactly the
  first half of :func:`mask_content` and masking redacted text gives the same
  result as masking the original.
* A span that is (or lies inside) a mask token is left alone, which makes
  masking idempotent.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

import re2

from driftaudit.domain.errors import MaskingPatternError
from driftaudit.domain.linescope import line_local_source
from driftaudit.domain.models import MaskingPattern, PatternKind, Platform
from driftaudit.domain.re2scan import Scanner, re2_options
from driftaudit.domain.reversible import decode_cisco7, decode_junos9
from driftaudit.domain.secrets_grammar import SecretGrammar, grammar_for
from driftaudit.domain.suffixgroup import SuffixGroup, suffix_group

__all__ = [
    "GRAMMAR_RULE",
    "GrammarMemo",
    "TOKEN_PATTERN",
    "CompiledPatterns",
    "MaskingRegistry",
    "mask_content",
    "mask_redacted",
    "mask_with_counts",
    "redact_secrets",
]

#: What every mask token looks like; other code may use it to recognise tokens.
TOKEN_PATTERN: Final = r"<(?:volatile|secret):[A-Za-z0-9._:-]+>"
_TOKEN: Final = re.compile(TOKEN_PATTERN)
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_FINGERPRINT_HEX: Final = 12
_TYPE7_MARKER: Final = re.compile(r"(?:^|\s)7[ \t]+$")
_TOKEN_MAX: Final = 96  # longest token: "<secret:ignored:" + a 64-character name + ">"
#: From this size on, masking runs line-local patterns over the lines that hold a match only (see
#: _mask_by_lines); on shorter texts the few whole-text scans cost less than finding those lines.
#: Either way the result is the same.
LINE_MASKING_MIN_CHARS = 8192  # not Final: tests lower it (a compiled Final would be inlined)
#: The name the vendor secret grammar's spans are counted under in ``mask_counts``.
GRAMMAR_RULE: Final = "secret-grammar"


@dataclass(frozen=True, slots=True)
class _Rule:
    """One compiled pattern: what to match and how to replace it."""

    name: str
    kind: PatternKind
    ignore_changes: bool
    scanner: Scanner
    group: int  # index of the "value" group when the pattern has one, else 0 (the whole match)
    token: str | None = None  # what every span becomes; None: a secret's own fingerprint
    #: the value group found without RE2's submatch engine, for patterns of that shape
    suffix: SuffixGroup | None = None
    #: ``kind is PatternKind.VOLATILE``, read once per match (compiled, a field costs no lookup)
    volatile: bool = False

    def value_spans(self, text: str) -> list[tuple[int, int]]:
        """The span to mask of every match, left to right (the ``value`` group, else the whole match)."""
        if self.suffix is not None:
            spans = self.suffix.spans(text)
            if spans is not None:
                return spans
        group = self.group
        return [found[group] for found in self.scanner.all_spans(text)]


def _compile_set(rules: tuple[_Rule, ...], patterns: Mapping[str, str]) -> Any:
    """One RE2 set answering "which of these patterns match anywhere" in a single pass."""
    if not rules:
        return None
    pattern_set = re2.Set.SearchSet(re2_options())
    for rule in rules:
        pattern_set.Add(patterns[rule.name])
    pattern_set.Compile()
    return pattern_set


@dataclass(frozen=True, eq=False)
class _Phase:
    """One phase's rules split by reach.

    A line-local rule (see :mod:`driftaudit.domain.linescope`) runs over the
    flagged lines only, joined into one short text; the others run over the
    whole text. Which rules run is decided once, at the start of the phase, by
    the phase's one set over the whole text, as whole-text masking decides it.
    """

    rules: tuple[_Rule, ...]
    local: frozenset[int]  # indices (into rules) of the line-local rules


@dataclass(frozen=True, eq=False)
class _LinePlan:
    """How masking finds the lines it may change in one scan, and the two phases it then runs."""

    locator: Scanner  # every line a line-local rule, or the grammar, may change
    secrets: _Phase
    volatiles: _Phase


@dataclass(frozen=True, eq=False)
class CompiledPatterns:
    """One platform's compiled patterns plus the fingerprint key (never shown in repr)."""

    platform: Platform | None
    secrets: tuple[_Rule, ...]
    volatiles: tuple[_Rule, ...]
    key: bytes = field(repr=False)
    _secret_set: Any = field(repr=False)
    _volatile_set: Any = field(repr=False)
    grammar: SecretGrammar | None = None
    _lines: _LinePlan | None = field(default=None, repr=False)
    #: one set of the secret patterns then the volatile ones: see :func:`_chosen_rules`
    _both_set: Any = field(default=None, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        """Pattern names in the order they are applied (the grammar, secrets, then volatiles)."""
        first = (GRAMMAR_RULE,) if self.grammar is not None else ()
        return (*first, *(rule.name for rule in (*self.secrets, *self.volatiles)))


def _compile_rule(pattern: MaskingPattern) -> tuple[_Rule, str]:
    if not _NAME.fullmatch(pattern.name):
        raise MaskingPatternError(
            f"masking pattern {pattern.name!r}: a name is 1-64 letters, digits, '.', '_' or '-'"
        )
    source = f"(?m){pattern.regex}"
    try:
        scanner = Scanner(source)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise MaskingPatternError(
            f"masking pattern {pattern.name!r} cannot be compiled by RE2 (lookarounds and "
            f"backreferences are not supported): {detail}"
        ) from exc
    if scanner.regex.search("") is not None:
        raise MaskingPatternError(f"masking pattern {pattern.name!r} matches the empty string")
    group = int(scanner.regex.groupindex.get("value", 0))
    if pattern.kind is PatternKind.VOLATILE:
        token: str | None = f"<volatile:{pattern.name}>"
    else:
        token = f"<secret:ignored:{pattern.name}>" if pattern.ignore_changes else None
    suffix = suffix_group(pattern.regex) if group else None
    volatile = pattern.kind is PatternKind.VOLATILE
    rule = _Rule(pattern.name, pattern.kind, pattern.ignore_changes, scanner, group, token, suffix, volatile)
    return rule, source


class MaskingRegistry:
    """Validated, compiled masking patterns, selectable per platform.

    Compilation happens once, here; :meth:`for_platform` hands out cached,
    immutable :class:`CompiledPatterns` that are safe to share between threads.
    """

    def __init__(self, patterns: Iterable[MaskingPattern], *, key: bytes, grammar: bool = False) -> None:
        if not isinstance(key, bytes) or not key:
            raise MaskingPatternError("the masking key must be non-empty bytes")
        self._key = key
        self._grammar = grammar
        self._patterns: tuple[MaskingPattern, ...] = tuple(patterns)
        self._rules: list[tuple[MaskingPattern, _Rule]] = []
        self._sources: dict[str, str] = {}
        self._local_sources: dict[str, str | None] = {}
        for pattern in self._patterns:
            if pattern.name in self._sources:
                raise MaskingPatternError(f"masking pattern {pattern.name!r} is defined twice")
            rule, source = _compile_rule(pattern)
            self._rules.append((pattern, rule))
            self._sources[pattern.name] = source
            self._local_sources[pattern.name] = line_local_source(pattern.regex)
        self._cache: dict[Platform | None, CompiledPatterns] = {}

    @classmethod
    def builtin(cls, *, key: bytes, extra: Iterable[MaskingPattern] = ()) -> MaskingRegistry:
        """The vendor secret grammar, the built-in packs plus ``extra``.

        An extra pattern named like a built-in replaces it in place (same
        position in the order patterns are applied); the others come last.
        """
        from driftaudit.domain.packs import BUILTIN_PATTERNS

        extras = list(extra)
        builtin_names = {pattern.name for pattern in BUILTIN_PATTERNS}
        overrides = {pattern.name: pattern for pattern in extras if pattern.name in builtin_names}
        merged = [overrides.get(pattern.name, pattern) for pattern in BUILTIN_PATTERNS]
        merged.extend(pattern for pattern in extras if pattern.name not in builtin_names)
        return cls(merged, key=key, grammar=True)

    @property
    def patterns(self) -> tuple[MaskingPattern, ...]:
        """Every pattern, in registration order."""
        return self._patterns

    def for_platform(self, platform: Platform | None) -> CompiledPatterns:
        """The patterns that apply to ``platform``; ``None`` selects every pattern."""
        cached = self._cache.get(platform)
        if cached is not None:
            return cached
        chosen = [
            rule
            for pattern, rule in self._rules
            if platform is None or not pattern.platforms or platform in pattern.platforms
        ]
        secrets = tuple(rule for rule in chosen if rule.kind is PatternKind.SECRET)
        volatiles = tuple(rule for rule in chosen if rule.kind is PatternKind.VOLATILE)
        grammar = grammar_for(platform) if self._grammar else None
        compiled = CompiledPatterns(
            platform=platform,
            secrets=secrets,
            volatiles=volatiles,
            key=self._key,
            _secret_set=_compile_set(secrets, self._sources),
            _volatile_set=_compile_set(volatiles, self._sources),
            grammar=grammar,
            _lines=self._line_plan(secrets, volatiles, grammar),
            _both_set=_compile_set((*secrets, *volatiles), self._sources) if secrets and volatiles else None,
        )
        self._cache[platform] = compiled
        return compiled

    def _line_plan(
        self, secrets: tuple[_Rule, ...], volatiles: tuple[_Rule, ...], grammar: SecretGrammar | None
    ) -> _LinePlan | None:
        """The line plan of these rules, or None when no rule is line-local (whole-text masking)."""
        local = [self._local_sources[rule.name] for rule in (*secrets, *volatiles)]
        sources = [source for source in local if source is not None]
        if grammar is not None:
            grammar_line = line_local_source(grammar.line_source)
            if grammar_line is None:
                return None  # cannot happen with our own vocabulary; whole-text masking stays correct
            sources.append(grammar_line)
        if not sources:
            return None
        alternation = "|".join(f"(?:{source})" for source in sources)
        try:
            line = f"[^\\n]*?(?:{alternation})[^\\n]*"
            locator = Scanner(f"(?m)^{line}(?:\\n{line})*")
        except re2.error:
            return None  # an operator pattern RE2 accepts alone but not combined: whole-text masking
        return _LinePlan(locator, self._phase(secrets), self._phase(volatiles))

    def _phase(self, rules: tuple[_Rule, ...]) -> _Phase:
        local = frozenset(
            index for index, rule in enumerate(rules) if self._local_sources[rule.name] is not None
        )
        return _Phase(rules=rules, local=local)


def _touches_token(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a mask token, or cuts into one.

    A span that wholly contains a token plus other text may be masked (the
    token is subsumed); anything else touching a token is left alone, so
    masked text masks to itself. A token holds no ``<`` but its first
    character, so the tokens near the span are the ones starting at each
    ``<`` before its end (a token is at most ``_TOKEN_MAX`` long).
    """
    cut = text.find("<", max(0, start - _TOKEN_MAX), end)
    while cut >= 0:
        token = _TOKEN.match(text, cut, end + _TOKEN_MAX)
        if token is not None and token.end() > start:
            contained = start <= cut and token.end() <= end
            if not contained or (cut == start and token.end() == end):
                return True
        cut = text.find("<", cut + 1, end)
    return False


def _fingerprint_input(value: str, *, type7: bool) -> str:
    """What a secret's fingerprint is made of: the decoded password for reversible encodings."""
    decoded = decode_junos9(value)
    if decoded is None and type7:
        decoded = decode_cisco7(value)
    return value if decoded is None else decoded


def _fingerprint(value: str, key: bytes, *, type7: bool) -> str:
    digest = _keyed(key).copy()  # HMAC-SHA256(key, value): the keyed state is set up once per key
    digest.update(_fingerprint_input(value, type7=type7).encode("utf-8"))
    return f"<secret:{digest.hexdigest()[:_FINGERPRINT_HEX]}>"


@lru_cache(maxsize=8)
def _keyed(key: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 with ``key`` and no message yet, to copy for each value."""
    return hmac.new(key, digestmod=hashlib.sha256)


#: per line, its masked text and how many values the grammar masked in it
GrammarMemo = dict[str, tuple[str, int]]


def _apply_grammar(
    text: str,
    grammar: SecretGrammar | None,
    key: bytes,
    counts: dict[str, int],
    memo: GrammarMemo | None = None,
) -> str:
    """Fingerprint every value the vendor grammar finds (type 7 values decoded first).

    The grammar reads one line at a time, so a line masks the same wherever it
    stands: ``memo`` (one comparison's, shared by its two texts) lets a line
    both texts hold be masked once.
    """
    if grammar is None:
        return text
    pieces: list[str] = []
    position = 0
    found = 0
    for start, end in grammar.lines(text):
        line = text[start:end]
        done = memo.get(line) if memo is not None else None
        if done is None:
            done = _mask_line(grammar, text, start, end, key)
            if memo is not None:
                memo[line] = done
        masked, count = done
        if count:
            pieces.append(text[position:start])
            pieces.append(masked)
            position = end
            found += count
    if not found:
        return text
    pieces.append(text[position:])
    counts[GRAMMAR_RULE] = counts.get(GRAMMAR_RULE, 0) + found
    return "".join(pieces)


def _mask_line(grammar: SecretGrammar, text: str, start: int, end: int, key: bytes) -> tuple[str, int]:
    """The line ``text[start:end]`` with the grammar's values fingerprinted, and how many there were."""
    pieces: list[str] = []
    position = start
    for span in grammar.line_spans(text, start, end):
        pieces.append(text[position : span.start])
        pieces.append(_fingerprint(text[span.start : span.end], key, type7=span.type7))
        position = span.end
    if not pieces:
        return text[start:end], 0
    pieces.append(text[position:end])
    return "".join(pieces), len(pieces) // 2


def _apply(
    text: str, rule: _Rule, key: bytes, replaced: list[tuple[int, int, int]] | None = None
) -> tuple[str, int]:
    """``text`` with every match of ``rule`` masked, and how many.

    ``replaced`` (when given) collects each replacement's (start, end, new length).
    """
    pieces: list[str] = []
    position = 0
    count = 0
    constant = rule.token
    for start, end in rule.value_spans(text):
        if start < 0 or start == end:
            continue
        if text.find("<", max(0, start - _TOKEN_MAX), end) >= 0 and _touches_token(text, start, end):
            continue
        pieces.append(text[position:start])
        if constant is None:
            before = text[max(0, start - 8) : start]
            replacement = _fingerprint(text[start:end], key, type7=_TYPE7_MARKER.search(before) is not None)
        elif rule.volatile and text[end - 1] == "\n":
            replacement = ""  # a volatile span ending with a line break drops the line
        else:
            replacement = constant
        pieces.append(replacement)
        if replaced is not None:
            replaced.append((start, end, len(replacement)))
        position = end
        count += 1
    if not count:
        return text, 0
    pieces.append(text[position:])
    return "".join(pieces), count


def _apply_phase(
    text: str,
    rules: tuple[_Rule, ...],
    pattern_set: Any,
    key: bytes,
    counts: dict[str, int],
    chosen: list[int] | None = None,
) -> str:
    """``text`` with the phase's rules applied in order; only those ``pattern_set`` finds in it run.

    ``chosen`` (sorted indices) is that set's answer on this very text, when
    it is already known.
    """
    if chosen is None:
        if pattern_set is None:
            return text
        chosen = sorted(pattern_set.Match(text) or ())
    for index in chosen:
        rule = rules[index]
        text, count = _apply(text, rule, key)
        if count:
            counts[rule.name] = counts.get(rule.name, 0) + count
    return text


def _chosen_rules(text: str, patterns: CompiledPatterns) -> tuple[list[int], list[int]] | None:
    """Which secret and which volatile rules match ``text`` (sorted indices), from one set scan.

    A set answers for each of its patterns alone, so the combined set's answer
    is the two phase sets' answers on the same text. The volatile half holds
    for the volatile phase only when the secret phase leaves the text as it
    is (see :func:`mask_with_counts`): then one scan replaces two. None when
    either phase has no rules.
    """
    if patterns._both_set is None:
        return None
    found = sorted(patterns._both_set.Match(text) or ())
    split = bisect_left(found, len(patterns.secrets))
    offset = len(patterns.secrets)
    return found[:split], [index - offset for index in found[split:]]


def mask_with_counts(
    content: str, patterns: CompiledPatterns, *, memo: GrammarMemo | None = None
) -> tuple[str, dict[str, int]]:
    """Mask secrets, then volatile values; also return how many spans each pattern masked.

    ``memo`` (a fresh dict per comparison, passed to the masking of both its
    texts) lets the grammar mask each distinct secret line once.
    """
    counts: dict[str, int] = {}
    if patterns._lines is not None and len(content) >= LINE_MASKING_MIN_CHARS:
        return _mask_by_lines(content, patterns, patterns._lines, counts, memo, volatiles=True), counts
    text = _apply_grammar(content, patterns.grammar, patterns.key, counts, memo)
    chosen = _chosen_rules(text, patterns)
    if chosen is None:
        text = _apply_phase(text, patterns.secrets, patterns._secret_set, patterns.key, counts)
        return _apply_phase(text, patterns.volatiles, patterns._volatile_set, patterns.key, counts), counts
    secrets, volatiles = chosen
    redacted = _apply_phase(text, patterns.secrets, None, patterns.key, counts, secrets)
    # the secret phase changed the text: the volatile phase decides on the new text
    known = volatiles if redacted is text else None
    text = _apply_phase(redacted, patterns.volatiles, patterns._volatile_set, patterns.key, counts, known)
    return text, counts


def mask_content(content: str, patterns: CompiledPatterns, *, memo: GrammarMemo | None = None) -> str:
    """The text to compare: secrets fingerprinted, volatile values replaced or dropped.

    ``memo``: see :func:`redact_secrets`.
    """
    return mask_with_counts(content, patterns, memo=memo)[0]


def redact_secrets(content: str, patterns: CompiledPatterns, *, memo: GrammarMemo | None = None) -> str:
    """Only the secrets masked: what may leave the process (topics, history, logs).

    ``memo`` (a fresh dict, used with these ``patterns`` only) keeps the
    grammar's answer per line: the fetch step redacts a device's config and
    then masks its intended config, whose lines are mostly the same, so with
    one memo for both each shared line is read by the grammar once. The
    grammar reads one line at a time (see :func:`_apply_grammar`), so the
    answer is the same wherever the line stands.
    """
    return _redact(content, patterns, {}, memo)


def _redact(
    content: str, patterns: CompiledPatterns, counts: dict[str, int], memo: GrammarMemo | None = None
) -> str:
    """The secret phase: the vendor grammar first, then the secret patterns."""
    if patterns._lines is not None and len(content) >= LINE_MASKING_MIN_CHARS:
        return _mask_by_lines(content, patterns, patterns._lines, counts, memo, volatiles=False)
    text = _apply_grammar(content, patterns.grammar, patterns.key, counts, memo)
    return _apply_phase(text, patterns.secrets, patterns._secret_set, patterns.key, counts)


def mask_redacted(redacted: str, patterns: CompiledPatterns) -> tuple[str, dict[str, int]]:
    """:func:`mask_with_counts` of a text :func:`redact_secrets` made with these ``patterns``.

    Redaction is idempotent (every sample line and the generated secret forms
    are tested for it), so masking its output finds no secret left: the
    grammar and the secret phase would scan the whole text again to change
    nothing. Only the volatile phase runs, on the lines (or the whole text) it
    would run on after them. The text must come from ``redact_secrets`` with
    the same patterns (the fetch stage's own redaction): on any other text a
    secret would stay in clear. The counts hold the volatile rules only.
    """
    counts: dict[str, int] = {}
    plan = patterns._lines
    if plan is not None and len(redacted) >= LINE_MASKING_MIN_CHARS:
        spans = _flagged_lines(redacted, plan.locator)
        text, _ = _run_phase(redacted, spans, plan.volatiles, patterns.key, counts, patterns._volatile_set)
        return text, counts
    return _apply_phase(redacted, patterns.volatiles, patterns._volatile_set, patterns.key, counts), counts


# -- masking by lines -------------------------------------------------------------------------
#
# The same result as the whole-text phases above, with less scanning: one scan
# (the plan's locator) finds every line a line-local rule or the grammar may
# change; those rules then run over these lines only, joined into one short
# text, and rules that may match across lines run over the whole text, each in
# its place in the order. A line-local rule masks a line the same wherever the
# line stands, so masking the joined lines and putting them back is masking
# the text; lines a whole-text rule changes are flagged again, so they are
# never missed by the line-local rules after it.

_Span = tuple[int, int]


def _mask_by_lines(
    content: str,
    patterns: CompiledPatterns,
    plan: _LinePlan,
    counts: dict[str, int],
    memo: GrammarMemo | None,
    *,
    volatiles: bool,
) -> str:
    """Secrets (and volatiles when ``volatiles``) masked, as the whole-text phases mask them."""
    text = content
    spans = _flagged_lines(text, plan.locator)
    if patterns.grammar is not None and spans:
        joined = _gather(text, spans)
        masked = _apply_grammar(joined, patterns.grammar, patterns.key, counts, memo)
        if masked is not joined:
            text, spans = _scatter(text, spans, masked)
    chosen = _chosen_rules(text, patterns) if volatiles else None
    secrets = None if chosen is None else chosen[0]
    redacted, spans = _run_phase(
        text, spans, plan.secrets, patterns.key, counts, patterns._secret_set, secrets
    )
    if volatiles:
        # the combined set's volatile half holds while the secret phase changed nothing
        known = chosen[1] if chosen is not None and redacted is text else None
        redacted, spans = _run_phase(
            redacted, spans, plan.volatiles, patterns.key, counts, patterns._volatile_set, known
        )
    return redacted


def _flagged_lines(text: str, locator: Scanner) -> list[_Span]:
    """The (start, end) of every line the locator flags (it flags runs of consecutive lines)."""
    spans: list[_Span] = []
    for found in locator.all_spans(text):
        start, end = found[0]
        cut = text.find("\n", start, end)
        while cut >= 0:
            spans.append((start, cut))
            start = cut + 1
            cut = text.find("\n", start, end)
        spans.append((start, end))
    return spans


def _gather(text: str, spans: list[_Span]) -> str:
    return "\n".join([text[start:end] for start, end in spans])


def _scatter(text: str, spans: list[_Span], joined: str) -> tuple[str, list[_Span]]:
    """``text`` with its flagged lines replaced by the lines of ``joined`` (as many, in order)."""
    lines = joined.split("\n")
    pieces: list[str] = []
    moved: list[_Span] = []
    previous = shift = 0
    for (start, end), line in zip(spans, lines, strict=True):
        pieces.append(text[previous:start])
        pieces.append(line)
        moved.append((start + shift, start + shift + len(line)))
        shift += len(line) - (end - start)
        previous = end
    pieces.append(text[previous:])
    return "".join(pieces), moved


def _run_phase(
    text: str,
    spans: list[_Span],
    phase: _Phase,
    key: bytes,
    counts: dict[str, int],
    pattern_set: Any,
    chosen: list[int] | None = None,
) -> tuple[str, list[_Span]]:
    # which rules run: the phase's one set over the whole text, as the whole-text phase decides it
    # (``chosen`` when that answer on this text is already known)
    if chosen is None:
        chosen = sorted(pattern_set.Match(text) or ()) if pattern_set is not None else []
    position = 0
    while position < len(chosen):
        if chosen[position] not in phase.local:
            rule = phase.rules[chosen[position]]
            replaced: list[tuple[int, int, int]] = []
            text, count = _apply(text, rule, key, replaced)
            if count:
                counts[rule.name] = counts.get(rule.name, 0) + count
                spans = _respan(text, spans, replaced)
            position += 1
            continue
        joined = _gather(text, spans)
        masked = joined
        while position < len(chosen) and chosen[position] in phase.local:
            rule = phase.rules[chosen[position]]
            masked, count = _apply(masked, rule, key)
            if count:
                counts[rule.name] = counts.get(rule.name, 0) + count
            position += 1
        if masked is not joined:
            text, spans = _scatter(text, spans, masked)
    return text, spans


def _respan(text: str, spans: list[_Span], replaced: list[tuple[int, int, int]]) -> list[_Span]:
    """The flagged lines after a whole-text rule replaced ``replaced`` (offsets before it) in ``text``.

    Lines it did not touch keep their flag (shifted); every line holding
    replaced text is flagged, since line-local rules may now match there.
    """
    kept: set[_Span] = set()
    shift = 0
    index = 0
    for start, end in spans:
        while index < len(replaced) and replaced[index][1] <= start:
            shift += replaced[index][2] - (replaced[index][1] - replaced[index][0])
            index += 1
        if index < len(replaced) and replaced[index][0] <= end:
            continue  # the line, or its line break, was replaced: flagged again below
        kept.add((start + shift, end + shift))
    shift = 0
    for start, end, size in replaced:
        new_start = start + shift
        shift += size - (end - start)
        line = text.rfind("\n", 0, new_start) + 1
        stop = text.find("\n", new_start + size)
        stop = len(text) if stop < 0 else stop
        while True:
            cut = text.find("\n", line, stop)
            if cut < 0:
                kept.add((line, stop))
                break
            kept.add((line, cut))
            line = cut + 1
    return sorted(kept)
