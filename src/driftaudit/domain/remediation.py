"""Remediation: the commands that take a device's running config to its intended one.

Built on the section tree of :mod:`driftaudit.domain.sections`, with the same
notion of ordered and unordered sections as the diff, in the platform's own
style:

* **IOS-like** (IOS/IOS-XE, NX-OS, EOS, IOS-XR, ASA): hierarchical lines; a
  line missing on the device is added under its parents, a line the intent
  lacks is negated (``no X``; a ``no X`` line is negated as ``X``) under its
  parents, a whole section the intent lacks is one ``no HEAD``. An ordered
  section (named ACL, EOS prefix-list, policy-map, banner) whose order cannot
  be reached by removing entries and appending new ones at its end is
  rewritten: ``no HEAD`` then the intended section; an ordered group of
  sibling lines (``access-list 101 ...``, ``route-map X permit 10`` entries,
  ``ip prefix-list X seq ...``) likewise becomes ``no KEY`` then every intended
  entry; a deep-ordered head (an IOS-XR route-policy) is rewritten whole
  whenever it differs.
* **Junos** (braces or set lines, whatever the stored format): ``delete``
  lines (one per largest container the intent lacks entirely) then ``set``
  lines; an ordered container (policy-statement and filter terms, ``then``
  actions) whose order appending cannot reach is deleted and set again in the
  intended order.

Remediation works on *masked* texts, so it never holds a secret value: a line
carrying a secret token is rendered as a comment that names the intended
line the value comes from (:func:`render`). Only a local caller holding the
raw intended file may put the real values back (:func:`secret_values`).

:func:`apply_remediation` applies the steps to a running config with the
same section tree, so a property test can prove that the result compares
compliant with the intent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from driftaudit.domain.masking import TOKEN_PATTERN, CompiledPatterns, redact_secrets
from driftaudit.domain.models import Platform
from driftaudit.domain.prune import prune_shared_blocks
from driftaudit.domain.sections import (
    ConfigShape,
    SectionNode,
    SectionRules,
    detect_shape,
    parse_indented,
    parse_junos,
    rules_for,
)

__all__ = [
    "Action",
    "Remediation",
    "RemediationStep",
    "apply_remediation",
    "idempotent_key",
    "negate",
    "remediate",
    "render",
    "reveal",
    "secret_sources",
    "secret_values",
    "step_key",
]

_JUNOS_SHAPES = (ConfigShape.JUNOS_BRACES, ConfigShape.JUNOS_SET)
_TOKEN = re.compile(TOKEN_PATTERN)
_SECRET_TOKEN = re.compile(r"<secret:[A-Za-z0-9._:-]+>")
_BANNER = re.compile(r"banner \S+(?: (?P<rest>.*))?$")
_JUNOS_OPS = ("deactivate ", "protect ")


class Action(StrEnum):
    """What one remediation step does to the tree."""

    ADD = "add"  # add ``line`` (with ``below``) under ``path``
    REMOVE = "remove"  # remove one ``line`` (and everything under it) under ``path``
    REMOVE_GROUP = "remove_group"  # remove every sibling in ordered group ``line`` under ``path``


@dataclass(frozen=True, slots=True)
class Remediation:
    """The steps for one device and the style they render in (``ios`` or ``junos``)."""

    style: str
    steps: tuple[RemediationStep, ...]

    def only(self, keep: Callable[[RemediationStep], bool]) -> Remediation:
        """The steps ``keep`` selects (one feature's share), in the same style."""
        return Remediation(self.style, tuple(step for step in self.steps if keep(step)))


@dataclass(frozen=True, slots=True)
class RemediationStep:
    """One change: an action on a line under a parent path.

    ``below`` holds the lines nested under an added line, as (depth, text)
    with depth 1 for its children; Junos steps have an empty path and a
    flattened statement (``set`` form without ``set``) as ``line``.
    """

    action: Action
    path: tuple[str, ...]
    line: str
    below: tuple[tuple[int, str], ...] = ()
    replaces: str | None = None  # an added line that overwrites this sibling (no `no` needed)


def step_key(step: RemediationStep) -> str:
    """The section path a step touches (what feature selectors match)."""
    return " ".join((*step.path, step.line)) if step.path else step.line


def negate(line: str) -> str:
    """The IOS-style negation of a line: ``no X`` for ``X``, ``X`` for ``no X``."""
    return line[3:].lstrip() if line.startswith("no ") else f"no {line}"


def remediate(masked_running: str, masked_intended: str, platform: Platform | None) -> Remediation:
    """The steps that take ``masked_running`` to ``masked_intended`` (both masked texts)."""
    rules = rules_for(platform)
    shape_r = detect_shape(masked_running, platform)
    shape_i = detect_shape(masked_intended, platform)
    if shape_r in _JUNOS_SHAPES and shape_i in _JUNOS_SHAPES:
        running = [s.key for s in parse_junos(masked_running, shape_r)]
        intended = [s.key for s in parse_junos(masked_intended, shape_i)]
        return Remediation("junos", tuple(_junos(running, intended, rules)))
    out: list[RemediationStep] = []
    leaders = rules.comment_leaders
    # an unordered top-level block both hold alike needs no step: parsing and walking it was most of
    # the cost of a drifted config. The blocks pruned are those the comparison prunes, but for a leaf
    # whose new value overwrites the old: its key is counted over the whole level (_overwrites)
    kept_running, kept_intended = prune_shared_blocks(
        masked_running, masked_intended, rules, pinned=idempotent_key
    )
    _children(parse_indented(kept_running, leaders), parse_indented(kept_intended, leaders), (), rules, out)
    return Remediation("ios", tuple(out))


# -- indented configs ---------------------------------------------------------------------------


def _below(node: SectionNode) -> tuple[tuple[int, str], ...]:
    lines: list[tuple[int, str]] = []
    pending = [(child, 1) for child in reversed(node.children)]
    while pending:
        current, depth = pending.pop()
        lines.append((depth, current.text))
        pending.extend((child, depth + 1) for child in reversed(current.children))
    return tuple(lines)


def _add(node: SectionNode, path: tuple[str, ...]) -> RemediationStep:
    return RemediationStep(Action.ADD, path, node.text, _below(node))


def _same(a: SectionNode, b: SectionNode) -> bool:
    if a.text != b.text or len(a.children) != len(b.children):
        return False
    return all(_same(x, y) for x, y in zip(a.children, b.children, strict=True))


def _children(
    running: Sequence[SectionNode],
    intended: Sequence[SectionNode],
    path: tuple[str, ...],
    rules: SectionRules,
    out: list[RemediationStep],
) -> None:
    """Steps for one unordered level; an ordered one is handled by its parent (see :func:`_pair`)."""
    free_r: dict[str, list[SectionNode]] = {}
    free_i: dict[str, list[SectionNode]] = {}
    groups_r: dict[str, list[SectionNode]] = {}
    groups_i: dict[str, list[SectionNode]] = {}
    for nodes, free, groups in ((running, free_r, groups_r), (intended, free_i, groups_i)):
        for node in nodes:
            key = rules.group_key(node.text)
            (free.setdefault(node.text, []) if key is None else groups.setdefault(key, [])).append(node)
    surplus = [extra for text, nodes in free_r.items() for extra in nodes[len(free_i.get(text, [])) :]]
    nested: list[RemediationStep] = []
    missing: list[SectionNode] = []
    for text, nodes in free_i.items():
        theirs = free_r.get(text, [])
        for mine, wanted in zip(theirs, nodes, strict=False):
            _pair(mine, wanted, path, rules, nested)
        missing.extend(nodes[len(theirs) :])
    overwritten = _overwrites(surplus, missing, intended)
    removals = [
        RemediationStep(Action.REMOVE, path, n.text) for n in surplus if n.text not in overwritten.values()
    ]
    additions = [
        RemediationStep(Action.ADD, path, n.text, _below(n), replaces=overwritten.get(n.text))
        for n in missing
    ]
    # lines of this level first, then what enters a deeper context: pasted into a CLI, a line
    # after a nested block would otherwise run in that block's mode
    grouped: list[RemediationStep] = []
    for key in {**groups_i, **groups_r}:
        _sequence(groups_r.get(key, []), groups_i.get(key, []), path, rules, grouped, group=key)
    level = [*removals, *additions]
    out.extend(step for step in level if not step.below)
    out.extend(step for step in level if step.below)
    out.extend(grouped)  # an ordered group keeps its own order
    out.extend(nested)


#: leaf commands a new value overwrites (one per section): no `no` line is needed before the new one
_IDEMPOTENT = re.compile(
    r"(?P<key>description|hostname|name|mtu|ip mtu|bandwidth|speed|duplex|version|router-id|bgp router-id"
    r"|switchport mode|switchport access vlan|switchport trunk native vlan|switchport trunk allowed vlan"
    r"|spanning-tree mode|neighbor \S+ (?:description|remote-as)|ip address) "
)


def idempotent_key(line: str) -> str | None:
    """What a leaf line sets, when a new value simply replaces the old (``description``, ``ip address``)."""
    match = _IDEMPOTENT.match(line)
    if match is None or (match.group("key") == "ip address" and line.endswith(" secondary")):
        return None
    return match.group("key")


def _overwrites(
    surplus: Sequence[SectionNode], missing: Sequence[SectionNode], intended: Sequence[SectionNode]
) -> dict[str, str]:
    """Added line -> the running line it overwrites, for idempotent leaf commands.

    Only where the key is unambiguous: one leaf with that key to remove, one to
    add, and one in the whole intended section (a config that lists a key
    twice is not one a device would hold).
    """

    def keyed(nodes: Iterable[SectionNode]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for node in nodes:
            key = None if node.children else idempotent_key(node.text)
            if key is not None:
                found.setdefault(key, []).append(node.text)
        return found

    old, new, everywhere = keyed(surplus), keyed(missing), keyed(intended)
    return {
        new[key][0]: old[key][0]
        for key in new.keys() & old.keys()
        if len(new[key]) == len(old[key]) == len(everywhere[key]) == 1
    }


def _pair(
    mine: SectionNode,
    wanted: SectionNode,
    path: tuple[str, ...],
    rules: SectionRules,
    out: list[RemediationStep],
) -> None:
    """Two lines with the same text under the same parent: fix what is nested under them.

    Most sections of a drifted config are untouched: an identical subtree
    needs no step, and one text comparison per line says so without the
    grouping, pairing and sequencing of its levels.
    """
    if not mine.children and not wanted.children:
        return
    if _same(mine, wanted):
        return
    rule = rules.ordered_head(mine.text)
    below = (*path, mine.text)
    if rule is None:
        _children(mine.children, wanted.children, below, rules, out)
        return
    if rule.deep or _BANNER.match(mine.text):  # a banner body is one text, never edited line by line
        if not _same(mine, wanted):
            _rewrite(mine, wanted, path, out)
        return
    steps: list[RemediationStep] = []
    if not _sequence(mine.children, wanted.children, below, rules, steps, group=None):
        _rewrite(mine, wanted, path, out)
        return
    out.extend(steps)


def _rewrite(
    mine: SectionNode, wanted: SectionNode, path: tuple[str, ...], out: list[RemediationStep]
) -> None:
    out.append(RemediationStep(Action.REMOVE, path, mine.text))
    out.append(_add(wanted, path))


def _sequence(
    running: Sequence[SectionNode],
    intended: Sequence[SectionNode],
    path: tuple[str, ...],
    rules: SectionRules,
    out: list[RemediationStep],
    *,
    group: str | None,
) -> bool:
    """Steps for an ordered run of siblings; False when only a rewrite reaches the order.

    The run can be fixed in place when removing the surplus entries and
    appending the missing ones at its end gives the intended order (each
    entry's own children then compare as usual); otherwise a group is
    rewritten here (``no KEY``, then every intended entry) and a section
    is left to its parent to rewrite.
    """
    texts_r = [node.text for node in running]
    texts_i = [node.text for node in intended]
    if texts_r == texts_i:
        for mine, wanted in zip(running, intended, strict=True):
            _pair(mine, wanted, path, rules, out)
        return True
    unique = len(set(texts_r)) == len(texts_r) and len(set(texts_i)) == len(texts_i)
    if unique:
        set_r, set_i = set(texts_r), set(texts_i)
        kept = [text for text in texts_r if text in set_i]
        if kept + [text for text in texts_i if text not in set_r] == texts_i:
            by_text = {node.text: node for node in running}
            for node in running:
                if node.text not in set_i:
                    out.append(RemediationStep(Action.REMOVE, path, node.text))
            for node in intended:
                if node.text in by_text:
                    _pair(by_text[node.text], node, path, rules, out)
                else:
                    out.append(_add(node, path))
            return True
    if group is None:
        return False
    if running:
        out.append(RemediationStep(Action.REMOVE_GROUP, path, group))
    out.extend(_add(node, path) for node in intended)
    return True


# -- Junos -------------------------------------------------------------------------------------------


def _words(key: str) -> list[str]:
    """Split a statement into words, keeping quoted strings whole."""
    return [match.group(0) for match in re.finditer(r'"(?:[^"\\]|\\.)*"?|\S+', key)]


def _under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix + " ")


def _junos(running: list[str], intended: list[str], rules: SectionRules) -> list[RemediationStep]:
    wanted = dict.fromkeys(intended)
    present = dict.fromkeys(running)
    deletes: list[str] = []
    for key in present:
        if key in wanted or any(_under(key, done) for done in deletes):
            continue
        deletes.append(_largest_absent(key, intended))
    # a statement deleted with its container is set again when the intent keeps it
    sets = [key for key in wanted if key not in present or any(_under(key, done) for done in deletes)]
    for _ in range(len(wanted) + 1):
        container = _misordered(_simulate(running, deletes, sets), intended, rules)
        if container is None:
            break
        deletes = [key for key in deletes if not _under(key, container)] + [container]
        sets = [key for key in sets if not _under(key, container)]
        sets.extend(key for key in wanted if _under(key, container))
    steps = [RemediationStep(Action.REMOVE, (), key) for key in deletes]
    steps.extend(RemediationStep(Action.ADD, (), key) for key in sets)
    return steps


def _largest_absent(key: str, intended: Iterable[str]) -> str:
    """The shortest prefix of ``key`` (two words at least) under which the intent has nothing."""
    words = _words(key)
    intended_list = list(intended)
    for size in range(min(2, len(words)), len(words)):
        prefix = " ".join(words[:size])
        if not any(_under(other, prefix) for other in intended_list):
            return prefix
    return key


def _simulate(running: Sequence[str], deletes: Sequence[str], sets: Sequence[str]) -> list[str]:
    result = [key for key in running if not any(_under(key, prefix) for prefix in deletes)]
    seen = set(result)
    for key in sets:
        if key not in seen:
            result.append(key)
            seen.add(key)
    return result


def _order(keys: Sequence[str], rules: SectionRules) -> dict[str, list[str]]:
    orders: dict[str, list[str]] = {}
    for pattern in rules.junos_ordered:
        for key in keys:
            match = pattern.match(key)
            if match:
                elements = orders.setdefault(match.group("container"), [])
                if match.group("element") not in elements:
                    elements.append(match.group("element"))
    return orders


def _misordered(result: Sequence[str], intended: Sequence[str], rules: SectionRules) -> str | None:
    """The outermost ordered container whose element order differs from the intent, if any."""
    got = _order(result, rules)
    want = _order(intended, rules)
    wrong = [container for container, elements in want.items() if got.get(container, elements) != elements]
    return min(wrong, key=len) if wrong else None


# -- rendering --------------------------------------------------------------------------------------


def secret_sources(raw_intended: str, patterns: CompiledPatterns) -> dict[str, int]:
    """Which line of the intended file each secret token comes from (1-based, first occurrence)."""
    sources: dict[str, int] = {}
    for number, line in enumerate(raw_intended.splitlines(), start=1):
        redacted = redact_secrets(line, patterns)
        if redacted == line:
            continue
        for token in _SECRET_TOKEN.findall(redacted):
            sources.setdefault(token, number)
    return sources


def secret_values(raw_intended: str, patterns: CompiledPatterns) -> dict[str, str]:
    """Each secret token of the intended file mapped to its real value.

    For a local caller only (``driftaudit preflight --remediation
    --with-secrets``): nothing built from this may reach an event, the
    history or a log.
    """
    values: dict[str, str] = {}
    for line in raw_intended.splitlines():
        redacted = redact_secrets(line, patterns)
        if redacted == line:
            continue
        tokens = _SECRET_TOKEN.findall(redacted)
        pieces = _SECRET_TOKEN.split(redacted)
        shape = "(.+?)".join(re.escape(piece) for piece in pieces)
        match = re.fullmatch(shape, line)
        if match is None:
            continue
        for token, value in zip(tokens, match.groups(), strict=True):
            values.setdefault(token, value)
    return values


_WITHHELD = re.compile(r"^(?P<indent>\s*)[!#] secret withheld[^:]*: (?P<command>.*)$")


def reveal(lines: Sequence[str], values: Mapping[str, str]) -> tuple[str, ...]:
    """Rendered remediation with withheld secret lines restored from ``values``.

    For the local ``--with-secrets`` print only (see :func:`secret_values`); a
    line whose tokens are not all known stays withheld.
    """
    out: list[str] = []
    for line in lines:
        match = _WITHHELD.match(line)
        command = match.group("command") if match else ""
        tokens = _SECRET_TOKEN.findall(command)
        if match is None or not tokens or not all(token in values for token in tokens):
            out.append(line)
            continue
        out.append(match.group("indent") + _SECRET_TOKEN.sub(lambda m: values[m.group(0)], command))
    return tuple(out)


def _junos_command(step: RemediationStep) -> str:
    op = step.line.startswith(_JUNOS_OPS)
    if step.action is Action.ADD:
        return step.line if op else f"set {step.line}"
    if step.line.startswith("deactivate "):
        return "activate " + step.line[len("deactivate ") :]
    if step.line.startswith("protect "):
        return "unprotect " + step.line[len("protect ") :]
    return f"delete {step.line}"


def _withhold(
    command: str, comment: str, sources: Mapping[str, int], values: Mapping[str, str] | None
) -> str:
    tokens = _SECRET_TOKEN.findall(command)
    if not tokens:
        return command
    if values is not None and all(token in values for token in tokens):
        return _SECRET_TOKEN.sub(lambda match: values[match.group(0)], command)
    lines = sorted({sources[token] for token in tokens if token in sources})
    where = (
        f", take it from intended line {', '.join(map(str, lines))}"
        if lines
        else " (not in the intended config)"
    )
    stripped = command.lstrip()
    indent = command[: len(command) - len(stripped)]
    return f"{indent}{comment} secret withheld{where}: {stripped}"


def _banner_end(text: str) -> str | None:
    match = _BANNER.match(text)
    if match is None:
        return None
    rest = match.group("rest")
    if not rest:
        return "EOF"
    if rest.startswith("^C"):
        return "^C" if "^C" not in rest[2:] else None
    first = rest[0]
    return None if first.isalnum() or first in rest[1:] else first


def _negation(line: str) -> str:
    banner = _BANNER.match(line)
    if banner is not None:  # `no banner motd`: the delimiter and text are not part of the negation
        return " ".join(line.split()[:2]).join(("no ", ""))
    return negate(line)


def render(
    remediation: Remediation,
    *,
    sources: Mapping[str, int] | None = None,
    values: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """The steps as the platform's commands.

    Args:
        remediation: from :func:`remediate`; its style chooses IOS-like
            hierarchical lines or Junos ``set``/``delete`` lines.
        sources: secret token -> intended line number (:func:`secret_sources`);
            a line with a secret token becomes a comment naming that line.
        values: secret token -> real value (:func:`secret_values`), for a local
            ``--with-secrets`` print only; never pass it when the result can
            leave the process.
    """
    known = sources or {}
    steps = remediation.steps
    if remediation.style == "junos":
        return tuple(_withhold(_junos_command(step), "#", known, values) for step in steps)
    lines: list[str] = []
    context: tuple[str, ...] = ()
    seen: set[tuple[tuple[str, ...], str]] = set()
    for step in steps:
        command = step.line if step.action is Action.ADD else _negation(step.line)
        if not step.below and (step.path, command) in seen:
            continue  # `no shutdown` both removes `shutdown` and adds `no shutdown`
        seen.add((step.path, command))
        common = 0
        while common < min(len(context), len(step.path)) and context[common] == step.path[common]:
            common += 1
        for depth in range(common, len(step.path)):
            lines.append(_withhold(" " * depth + step.path[depth], "!", known, values))
        context = step.path
        depth = len(step.path)
        lines.append(_withhold(" " * depth + command, "!", known, values))
        if step.action is Action.ADD and step.below:
            end = _banner_end(step.line)
            if end is not None:
                lines.extend(text for _, text in step.below)
                lines.append(end)
            else:
                lines.extend(
                    _withhold(" " * (depth + level) + text, "!", known, values) for level, text in step.below
                )
    return tuple(lines)


# -- applying steps (the round trip) ------------------------------------------------------------------


def apply_remediation(masked_running: str, remediation: Remediation, platform: Platform | None) -> str:
    """The config ``masked_running`` becomes once ``steps`` are applied, as the section tree sees it.

    Junos statements come back as ``set`` lines; indented configs as
    one-space indented text (banner bodies verbatim, with their delimiter).
    """
    rules = rules_for(platform)
    steps = remediation.steps
    if remediation.style == "junos":
        shape = detect_shape(masked_running, platform)
        shape = shape if shape in _JUNOS_SHAPES else ConfigShape.JUNOS_SET
        keys = [statement.key for statement in parse_junos(masked_running, shape)]
        for step in steps:
            if step.action is Action.ADD:
                if step.line not in keys:
                    keys.append(step.line)
            else:
                keys = [key for key in keys if not _under(key, step.line)]
        return "".join((key if key.startswith(_JUNOS_OPS) else f"set {key}") + "\n" for key in keys)
    roots = parse_indented(masked_running, rules.comment_leaders)
    for step in steps:
        siblings = _locate(roots, step.path)
        if step.action is Action.ADD:
            if step.replaces is not None:
                _remove_first(siblings, step.replaces)
            siblings.append(_build(step.line, step.below))
        elif step.action is Action.REMOVE:
            _remove_first(siblings, step.line)
        else:
            siblings[:] = [node for node in siblings if rules.group_key(node.text) != step.line]
    lines: list[str] = []
    _emit(roots, 0, lines)
    return "".join(line + "\n" for line in lines)


def _remove_first(siblings: list[SectionNode], text: str) -> None:
    for index, node in enumerate(siblings):
        if node.text == text:
            del siblings[index]
            return


def _locate(roots: list[SectionNode], path: Sequence[str]) -> list[SectionNode]:
    siblings = roots
    for head in path:
        found = next((node for node in siblings if node.text == head), None)
        if found is None:
            found = SectionNode(head)
            siblings.append(found)
        siblings = found.children
    return siblings


def _build(text: str, below: Sequence[tuple[int, str]]) -> SectionNode:
    node = SectionNode(text)
    stack: list[SectionNode] = [node]
    for depth, line in below:
        del stack[depth:]
        child = SectionNode(line)
        stack[-1].children.append(child)
        stack.append(child)
    return node


def _emit(nodes: Sequence[SectionNode], depth: int, lines: list[str]) -> None:
    for node in nodes:
        lines.append(" " * depth + node.text)
        end = _banner_end(node.text) if node.children else None
        if end is not None:
            # the delimiter closes the last body line, so that line reads back exactly as parsed
            if end == "EOF":  # EOS: the body ends with a line of its own
                lines.extend([*(child.text for child in node.children), end])
            else:
                lines.extend(child.text for child in node.children[:-1])
                lines.append(node.children[-1].text + end)
        else:
            _emit(node.children, depth + 1, lines)
