"""Hierarchical parsing of config text into comparable sections.

The diff compares *structure*, not text, so that reordering what a platform
treats as unordered (interfaces, VLANs, BGP neighbors, top-level sections) is
not drift while ordered sections (ACL entries, route-map and prefix-list
entries, policy terms) still compare in order. Three shapes of config exist:

* **indented** (IOS/IOS-XE, NX-OS, IOS-XR, EOS, ASA): a line's parent is the
  nearest earlier line with less indentation; comment lines (``!``, and ``:``
  on ASA), ``exit``/``exit-*`` and a top-level ``end`` are structure or
  annotation, not configuration; banners are read up to their delimiter so
  their body stays one ordered block.
* **Junos braces** and **Junos set lines**: both are flattened to the same
  ``set``-style statements (``then { accept; }`` and ``then accept;`` are one
  statement, ``members [ a b ];`` is two), so they compare with each other and
  with themselves regardless of presentation; ``#`` comments are dropped.

Which section heads are ordered is a rule table per platform
(:data:`SECTION_RULES`), not special cases. Everything here is pure and never
raises on any input: malformed text (unbalanced braces, odd indentation) still
yields a best-effort tree, because a worker must never die on a device's output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from driftaudit.domain.models import Platform

__all__ = [
    "SECTION_RULES",
    "ConfigShape",
    "JunosStatement",
    "OrderedHead",
    "SectionNode",
    "SectionRules",
    "detect_shape",
    "parse_indented",
    "parse_junos",
    "rules_for",
]


class ConfigShape(StrEnum):
    """How a config text expresses its hierarchy."""

    INDENTED = "indented"
    JUNOS_BRACES = "junos_braces"
    JUNOS_SET = "junos_set"


@dataclass(frozen=True, slots=True)
class OrderedHead:
    """A section head whose children compare in order.

    ``deep`` makes the order apply to every level below too (a route-policy is
    a program whose nested ``if`` blocks are ordered); otherwise only the direct
    children are ordered (a policy-map's classes, not each class's actions).
    """

    pattern: re.Pattern[str]
    deep: bool = False


#: how many line texts each rule table remembers the answers for (then it stops remembering)
_RULE_CACHE_SIZE: Final = 65536


@dataclass(frozen=True, slots=True)
class SectionRules:
    """What a platform treats as ordered.

    Attributes:
        ordered_heads: indented sections whose children compare in order.
        ordered_groups: sibling lines sharing the key captured by group 1 keep
            their relative order (``access-list 101 ...`` lines, ``route-map X
            permit N`` entries, ``ip prefix-list X seq N`` lines); other siblings
            are unordered.
        junos_ordered: regexes over flattened Junos statements with named groups
            ``container`` and ``element``; the sequence of distinct elements in
            each container is compared in order (terms of a policy-statement or
            filter, actions under ``then``).
        junos_words: words one of which every statement ``junos_ordered``
            matches holds (empty: no such words known); a statement holding
            none of them is skipped without running the patterns.
        comment_leaders: characters that start a comment line in an indented
            config. Comment lines are never configuration (the device discards
            them when the config is loaded: headers, ``!#`` defaults, the
            show-version blocks backup tools add), so they never count as drift.
    """

    ordered_heads: tuple[OrderedHead, ...] = ()
    ordered_groups: tuple[re.Pattern[str], ...] = ()
    junos_ordered: tuple[re.Pattern[str], ...] = ()
    junos_words: tuple[str, ...] = ()
    comment_leaders: str = "!"
    _cache: dict[str, OrderedHead | None] = field(default_factory=dict, compare=False, repr=False)
    _group_cache: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)
    _groups: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)
    #: matches (at the start, as ``match``) wherever one of ``junos_ordered`` does
    junos_ordered_any: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # one alternation instead of a Python loop over the patterns: group_key runs for every line
        if self.ordered_groups:
            combined = re.compile("|".join(f"(?:{pattern.pattern})" for pattern in self.ordered_groups))
            object.__setattr__(self, "_groups", combined)
        if self.junos_ordered:
            # the patterns' groups renamed away: an alternation may not repeat a group name
            sources = [_without_names(pattern.pattern) for pattern in self.junos_ordered]
            try:
                combined = re.compile("|".join(f"(?:{source})" for source in sources))
            except re.error:  # pragma: no cover - our own patterns combine; None: each is matched alone
                return
            object.__setattr__(self, "junos_ordered_any", combined)

    def may_be_ordered(self, key: str) -> bool:
        """Whether one of ``junos_ordered`` may match the Junos statement ``key`` (a substring test).

        The patterns start with ``(?:.* )?``: Python's engine tries them at
        every word of a long statement, several times the cost of looking for
        a word the match needs.
        """
        if not self.junos_words:
            return True
        for word in self.junos_words:
            if word in key:
                return True
        return False

    def ordered_head(self, text: str) -> OrderedHead | None:
        """The rule that makes ``text``'s children ordered, if any."""
        try:
            return self._cache[text]
        except KeyError:
            pass
        found = next((rule for rule in self.ordered_heads if rule.pattern.match(text)), None)
        if len(self._cache) < _RULE_CACHE_SIZE:
            self._cache[text] = found
        return found

    def group_key(self, text: str) -> str | None:
        """The ordered group a sibling line belongs to, or None when it is free.

        Remembered per line text, as :meth:`ordered_head` is: the pruner asks it
        for every block head both texts hold, and the same heads come back with
        every comparison of a device (a lookup costs a third of a match).
        """
        try:
            return self._group_cache[text]
        except KeyError:
            pass
        match = self._groups.match(text) if self._groups is not None else None
        found = None if match is None else next(group for group in match.groups() if group is not None)
        if len(self._group_cache) < _RULE_CACHE_SIZE:
            self._group_cache[text] = found
        return found


def _without_names(source: str) -> str:
    """``source`` with every named group ``(?P<name>`` made a plain group (same matches)."""
    return re.sub(r"(?<!\\)\(\?P<[A-Za-z_][A-Za-z0-9_]*>", "(", source)


def _heads(*patterns: str, deep: bool = False) -> tuple[OrderedHead, ...]:
    return tuple(OrderedHead(re.compile(p), deep=deep) for p in patterns)


_ACL_HEADS: Final = _heads(
    r"(?:ip|ipv6|ipv4|mac|arp) access-list ",  # named ACLs on every indented platform
    r"(?:ip|ipv6) prefix-list \S+$",  # EOS: `ip prefix-list X` then `seq N ...` children
    r"policy-map ",  # classes are evaluated in order
    r"banner ",  # the banner body is text
    r"certificate ",  # a certificate blob's hex lines
)
_ACL_GROUPS: Final = (
    re.compile(r"(access-list \S+) "),  # IOS numbered ACLs, ASA named ACLs
    re.compile(r"((?:ip|ipv6) prefix-list \S+) (?:seq|permit|deny|description)"),
    re.compile(r"(route-map \S+) "),
    re.compile(r"(ip as-path access-list \S+) "),  # first match wins, like an ACL
    re.compile(r"(ip(?:v6)? community-list (?:(?:standard|expanded) )?\S+) "),
)
_XR_HEADS: Final = _ACL_HEADS + _heads(r"route-policy ", deep=True)
#: every match of a _JUNOS_ORDERED pattern holds one of these (tests/unit/test_section_rules.py)
_JUNOS_WORDS: Final = ("policy-statement ", "filter ")
_JUNOS_ORDERED: Final = (
    re.compile(r"(?P<container>(?:.* )?policy-statement \S+) (?P<element>term \S+)"),
    re.compile(r"(?P<container>(?:.* )?filter \S+) (?P<element>term \S+)"),
    re.compile(r"(?P<container>(?:.* )?(?:policy-statement|filter) \S+(?: term \S+)? then) (?P<element>.+)"),
)

_INDENTED_RULES: Final = SectionRules(ordered_heads=_ACL_HEADS, ordered_groups=_ACL_GROUPS)
_ASA_RULES: Final = SectionRules(ordered_heads=_ACL_HEADS, ordered_groups=_ACL_GROUPS, comment_leaders="!:")
_JUNOS_RULES: Final = SectionRules(junos_ordered=_JUNOS_ORDERED, junos_words=_JUNOS_WORDS)

#: Which sections each platform treats as ordered; ``None`` is used when the
#: platform is unknown and unions every rule, so nothing ordered is missed.
SECTION_RULES: Final[Mapping[Platform | None, SectionRules]] = {
    Platform.IOS: _INDENTED_RULES,
    Platform.NXOS: _INDENTED_RULES,
    Platform.EOS: _INDENTED_RULES,
    Platform.ASA: _ASA_RULES,
    Platform.IOSXR: SectionRules(ordered_heads=_XR_HEADS, ordered_groups=_ACL_GROUPS),
    Platform.JUNOS: _JUNOS_RULES,
    Platform.JUNOS_SET: _JUNOS_RULES,
    None: SectionRules(
        ordered_heads=_XR_HEADS,
        ordered_groups=_ACL_GROUPS,
        junos_ordered=_JUNOS_ORDERED,
        junos_words=_JUNOS_WORDS,
        comment_leaders="!#",
    ),
}


def rules_for(platform: Platform | None) -> SectionRules:
    """The section rules of ``platform`` (the union of all rules when unknown)."""
    return SECTION_RULES.get(platform, SECTION_RULES[None])


_SET_PREFIXES: Final = ("set ", "deactivate ", "delete ", "activate ", "protect ", "unprotect ")


def detect_shape(text: str, platform: Platform | None = None) -> ConfigShape:
    """Guess how ``text`` expresses its hierarchy.

    Junos devices answer in either format whatever the inventory says, so for
    Junos the content decides between braces and set lines; an unknown platform
    is guessed from the content alone.
    """
    junos = platform in (Platform.JUNOS, Platform.JUNOS_SET)
    if platform is not None and not junos:
        return ConfigShape.INDENTED
    set_lines = brace_lines = other = 0
    for raw in text[:65536].splitlines()[:400]:
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        if line.startswith(_SET_PREFIXES):
            set_lines += 1
        elif line.endswith(("{", ";", "}")):
            brace_lines += 1
        else:
            other += 1
    if junos:
        return ConfigShape.JUNOS_SET if set_lines > brace_lines else ConfigShape.JUNOS_BRACES
    if set_lines > brace_lines and set_lines > other:
        return ConfigShape.JUNOS_SET
    if brace_lines > other:
        return ConfigShape.JUNOS_BRACES
    return ConfigShape.INDENTED


class SectionNode:
    """One line of an indented config with the lines nested under it."""

    __slots__ = ("children", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.children: list[SectionNode] = []

    def __repr__(self) -> str:
        return f"SectionNode({self.text!r}, children={len(self.children)})"


_EXIT: Final = re.compile(r"exit(?:-[a-z0-9-]+)?")
_BANNER: Final = re.compile(r"banner \S+(?: (?P<rest>.*))?$")
_EOS_BANNER_END: Final = "EOF"
#: deeper lines are kept as siblings at this depth, so comparison never recurses without bound
_MAX_DEPTH: Final = 48


def _banner_delimiter(rest: str | None) -> str | None:
    """The delimiter a banner body ends with.

    None means an EOS-style body ending with a line ``EOF``; an empty string
    means the line is not a delimited banner at all (ASA prints one ``banner
    motd TEXT`` line per banner line, with no delimiter).
    """
    if not rest:
        return None
    if rest.startswith("^C"):
        return "^C"
    first = rest[0]
    return "" if first.isalnum() else first


def parse_indented(text: str, comment_leaders: str = "!") -> list[SectionNode]:
    """Parse an indented config into top-level sections.

    Comment lines (starting with one of ``comment_leaders``), blank lines,
    ``exit``/``exit-*`` lines and a top-level ``end`` are dropped: they are
    structure or annotation, never configuration. A banner's body becomes the
    ordered children of its ``banner`` line, whatever its indentation (and
    whatever characters its lines start with).
    """
    roots: list[SectionNode] = []
    stack: list[tuple[int, SectionNode]] = []
    lines = text.splitlines()
    index = 0
    count = len(lines)
    while index < count:
        raw = lines[index].rstrip()
        index += 1
        stripped = raw.lstrip()
        if _is_annotation(stripped, comment_leaders):
            continue
        indent = len(raw) - len(stripped)
        if indent == 0 and stripped == "end":
            continue
        node = SectionNode(stripped)
        while stack and (stack[-1][0] >= indent or len(stack) >= _MAX_DEPTH):
            stack.pop()
        (stack[-1][1].children if stack else roots).append(node)
        stack.append((indent, node))
        banner = _BANNER.match(stripped) if stripped.startswith("banner ") else None
        if banner:
            index = _read_banner(lines, index, node, banner.group("rest"))
    return roots


def _read_banner(lines: list[str], index: int, node: SectionNode, rest: str | None) -> int:
    """Consume a banner body into ``node``; returns the index after it.

    A body whose end never comes is not a banner body: nothing is consumed, so
    the lines after it are still read as configuration.
    """
    close = banner_close(lines, index, rest)
    if close is None:
        return index
    probe, last = close
    node.children.extend(SectionNode(line.rstrip()) for line in lines[index:probe])
    if last.strip():
        node.children.append(SectionNode(last))
    return probe + 1


def banner_close(lines: list[str], index: int, rest: str | None) -> tuple[int, str] | None:
    """Where the banner body from ``lines[index]`` ends: (closing index, its text before the delimiter).

    None when there is no body to read: the banner is not delimited, fits on its
    own line (`banner motd ^Chello^C`), or its end never comes. The indented
    parser and the block pruner both read banners through this, so they agree
    on where a banner ends.
    """
    delimiter = _banner_delimiter(rest)
    if delimiter == "" or (
        delimiter is not None and rest is not None and delimiter in rest[len(delimiter) :]
    ):
        return None
    for probe in range(index, len(lines)):
        body = lines[probe].rstrip()
        if delimiter is None:
            if body.strip() == _EOS_BANNER_END:
                return probe, ""
        elif delimiter in body:
            return probe, body.split(delimiter, 1)[0]
    return None


def _is_annotation(stripped: str, comment_leaders: str) -> bool:
    """Whether a stripped line is blank, a comment or an ``exit``: structure, never configuration."""
    if not stripped or stripped[0] in comment_leaders:
        return True
    return stripped.startswith("exit") and _EXIT.fullmatch(stripped) is not None


@dataclass(frozen=True, slots=True)
class JunosStatement:
    """One flattened Junos statement.

    Attributes:
        key: the statement in ``set`` form without ``set`` (what compares).
        line: what a person should see: the statement as written in braces
            (without ``;``), or the whole ``set`` line.
        path: the brace heads above it; empty for set lines, which carry their
            path inside the line.
    """

    key: str
    line: str
    path: tuple[str, ...] = ()


def parse_junos(text: str, shape: ConfigShape) -> list[JunosStatement]:
    """Flatten a Junos config (braces or set lines) into statements in document order."""
    if shape is ConfigShape.JUNOS_SET:
        return _parse_set(text)
    return _parse_braces(text)


def _parse_set(text: str) -> list[JunosStatement]:
    statements: list[JunosStatement] = []
    for raw in text.splitlines():
        line = raw.strip()
        if "#" in line:  # only then can there be a comment to drop: most lines skip the call
            line = _strip_comment(line)
        if not line:
            continue
        key = line[4:].strip() if line.startswith("set ") else line
        statements.append(JunosStatement(key, line))
    return statements


def _strip_comment(line: str) -> str:
    """Drop a ``#`` comment (whole line or trailing, outside quotes)."""
    if not line or line[0] == "#":
        return ""
    if "#" not in line:
        return line
    in_quotes = False
    for position, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == "#" and not in_quotes and (position == 0 or line[position - 1] in " \t;{}"):
            return line[:position].rstrip()
    return line


def _expand_list(statement: str) -> Iterable[str]:
    """``members [ a b ]`` is the two statements ``members a`` and ``members b``."""
    if "[" not in statement or not statement.endswith("]"):
        yield statement
        return
    head, _, rest = statement.partition("[")
    items = rest[:-1].split()
    if not items:
        yield statement
        return
    for item in items:
        yield f"{head.rstrip()} {item}"


def _parse_braces(text: str) -> list[JunosStatement]:
    statements: list[JunosStatement] = []
    heads: list[str] = []
    # per open head: whether anything was emitted under it (an empty container is a statement too)
    emitted: list[bool] = []

    def close() -> None:
        head = heads.pop()
        if not emitted.pop():
            path = tuple(heads)
            statements.append(JunosStatement(key=_join(path, head), line=head, path=path))
        if emitted:
            emitted[-1] = True

    for raw in text.splitlines():
        line = raw.strip()
        if "#" in line:  # only then can there be a comment to drop
            line = _strip_comment(line)
        if not line:
            continue
        if line == "}" or line.startswith("} "):
            if heads:
                close()
            continue
        if line.endswith("{"):
            heads.append(line[:-1].rstrip())
            emitted.append(False)
            continue
        body = line[:-1].rstrip() if line.endswith(";") else line
        path = tuple(heads)
        for statement in _expand_list(body):
            statements.append(JunosStatement(key=_join(path, statement), line=statement, path=path))
        if emitted:
            emitted[-1] = True
    while heads:  # unbalanced: close what is still open, keeping empty containers
        close()
    return statements


def _join(path: tuple[str, ...], statement: str) -> str:
    return " ".join((*path, statement)) if path else statement
