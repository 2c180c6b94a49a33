"""Compliance features: named groups of config sections, scoped to the devices they concern.

A rules file (see :mod:`driftaudit.adapters.rules`) declares features such as
``ntp``, ``aaa``, ``snmp`` or ``bgp``. A feature says which platforms it
applies to, which sections belong to it and which devices it targets:

* **sections** are section-path prefixes (``ntp ``, ``snmp-server ``,
  ``router bgp``; Junos paths such as ``system ntp``), **patterns** are RE2
  regexes searched in the same path; both may be one list for every platform
  or a list per platform. A line's *section path* is its parents and itself
  joined by spaces (``router bgp 65000 neighbor 10.0.0.2 remote-as 65001``),
  which for Junos is the ``set`` statement without ``set``, whatever the
  stored format. A prefix ending in a letter or digit matches at a word
  boundary only (``router bgp`` matches ``router bgp 65000``, not
  ``router bgpx``).
* **scope** narrows a feature to tenants, sites, roles and tags (a device must
  carry every tag listed); an empty dimension matches every device. A device
  can match many features; where two rules define the *same* feature for a
  device, the most specific one wins (more constrained dimensions and tags,
  then a platform list), the earlier one on a tie.
* **ordered** makes the feature's lines compare in order even where the
  platform treats them as unordered (NTP ``prefer`` order, say).
* **policies** (present, absent, exactly) state rules for fleets without full
  intended configs; see :mod:`driftaudit.domain.policies`.

Everything here is pure; RE2 keeps operator patterns linear.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.models import Device, DriftLine, Platform, PolicyKind
from driftaudit.domain.sections import (
    ConfigShape,
    SectionNode,
    detect_shape,
    parse_indented,
    parse_junos,
    rules_for,
)

__all__ = [
    "CompiledFeature",
    "CompiledRules",
    "ConfigLine",
    "Feature",
    "FeatureScope",
    "Policy",
    "RuleSet",
    "SectionSelector",
    "compile_pattern",
    "compile_rules",
    "config_lines",
    "drift_key",
    "line_key",
    "parsed_indented",
    "select",
]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_JUNOS = (Platform.JUNOS, Platform.JUNOS_SET)
_SET = "set "


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeatureScope(_Frozen):
    """Which devices a feature targets; an empty dimension matches every device."""

    tenants: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    def matches(self, device: Device) -> bool:
        """Whether ``device`` is in this scope (every listed tag must be on the device)."""
        return (
            (not self.tenants or device.tenant in self.tenants)
            and (not self.sites or device.site in self.sites)
            and (not self.roles or device.role in self.roles)
            and self.tags <= device.tags
        )

    @property
    def specificity(self) -> int:
        """How narrow the scope is: one per constrained dimension, one per tag."""
        return bool(self.tenants) + bool(self.sites) + bool(self.roles) + len(self.tags)


class Policy(_Frozen):
    """A rule on a feature's lines: they must be present, absent, or exactly a set.

    ``lines`` are literal lines (a nested line is written with its parents, as
    its section path: ``line vty 0 4 transport input ssh``; Junos lines with
    or without ``set``); ``patterns`` are RE2 regexes searched in section
    paths. For ``exactly``, ``match`` (RE2) says which lines the set covers;
    by default every line of the feature. Both the policy's lines and the
    device's are masked before they compare, so a secret compares by its
    fingerprint and a volatile value never matters.

    The rules file may write ``present: [...]`` (or ``absent``/``exactly``)
    instead of ``kind`` and ``lines``.
    """

    name: str = ""
    kind: PolicyKind
    lines: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    match: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "kind" in data:
            return data
        kinds = [kind for kind in PolicyKind if kind.value in data]
        if len(kinds) != 1:
            raise ValueError("a policy needs exactly one of present, absent, exactly (or kind and lines)")
        kind = kinds[0]
        rest = {key: value for key, value in data.items() if key != kind.value}
        return {**rest, "kind": kind, "lines": data[kind.value] or ()}

    @model_validator(mode="after")
    def _something(self) -> Policy:
        if not self.lines and not self.patterns and self.kind is not PolicyKind.EXACTLY:
            raise ValueError(f"policy {self.name or self.kind.value!r} lists no line and no pattern")
        return self


_Sections = tuple[str, ...] | Mapping[Platform, tuple[str, ...]]


class Feature(_Frozen):
    """One compliance feature: its platforms, sections, order, scope and policies."""

    name: str = Field(pattern=_NAME)
    platforms: frozenset[Platform] = frozenset()
    sections: _Sections = ()
    patterns: _Sections = ()
    ordered: bool = False
    scope: FeatureScope = FeatureScope()
    policies: tuple[Policy, ...] = ()

    @field_validator("sections", "patterns", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    def applies_to(self, device: Device) -> bool:
        """The feature's platforms and scope both admit ``device``."""
        return (not self.platforms or device.platform in self.platforms) and self.scope.matches(device)

    @property
    def specificity(self) -> tuple[int, int]:
        """Scope narrowness first, then whether the feature names its platforms."""
        return self.scope.specificity, int(bool(self.platforms))


class RuleSet(_Frozen):
    """A whole rules file.

    ``unmatched`` says what happens to lines outside every feature in scope of
    a device: ``report`` (the default) compares the whole config as before;
    ``ignore`` compares only the lines of the features in scope, for partial
    intended configs.
    """

    unmatched: Literal["report", "ignore"] = "report"
    features: tuple[Feature, ...] = ()


def compile_pattern(pattern: str, where: str) -> Any:
    """Compile an operator's RE2 pattern, or raise ``ConfigurationError`` naming ``where``."""
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raise ConfigurationError(
            f"{where}: pattern {pattern!r} cannot be compiled by RE2 "
            "(lookarounds and backreferences are not supported)"
        ) from exc


def _for_platform(value: _Sections, platform: Platform) -> tuple[str, ...]:
    if isinstance(value, Mapping):
        found = value.get(platform)
        if found is None and platform in _JUNOS:  # one list serves both Junos formats
            found = value.get(Platform.JUNOS) or value.get(Platform.JUNOS_SET)
        return tuple(found or ())
    return tuple(value)


@dataclass(frozen=True, slots=True)
class SectionSelector:
    """Which section paths belong to a feature on one platform."""

    prefixes: tuple[str, ...] = ()
    patterns: tuple[Any, ...] = ()  # compiled RE2
    _prefixes: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # one anchored alternation of escaped literals (linear) instead of a Python loop per line
        if self.prefixes:
            parts = (
                re.escape(prefix) + ("(?: |$)" if prefix[-1].isalnum() else "") for prefix in self.prefixes
            )
            object.__setattr__(self, "_prefixes", re.compile("|".join(parts)))

    @property
    def empty(self) -> bool:
        """A selector that names no section (a policy-only feature covers the whole config)."""
        return not self.prefixes and not self.patterns

    def matches(self, key: str) -> bool:
        """Whether the section path ``key`` belongs to the feature."""
        if self._prefixes is not None and self._prefixes.match(key):
            return True
        return any(pattern.search(key) is not None for pattern in self.patterns)


@dataclass(frozen=True, slots=True)
class CompiledFeature:
    """A feature as it applies to one device: name, selector, order and policies."""

    name: str
    selector: SectionSelector
    ordered: bool
    policies: tuple[Policy, ...]
    policy_matches: tuple[Any, ...]  # per policy: its compiled patterns
    policy_scopes: tuple[Any, ...]  # per policy: compiled ``match`` or None


@dataclass
class CompiledRules:
    """A rule set with its patterns compiled once, answering "which features for this device"."""

    rules: RuleSet
    _compiled: dict[tuple[int, Platform], CompiledFeature] = field(default_factory=dict, repr=False)

    @property
    def unmatched(self) -> Literal["report", "ignore"]:
        """What happens to lines outside every feature in scope."""
        return self.rules.unmatched

    def for_device(self, device: Device) -> tuple[CompiledFeature, ...]:
        """The features in scope of ``device``, one per name (the most specific rule), in file order."""
        best: dict[str, tuple[tuple[int, int], int]] = {}
        for index, feature in enumerate(self.rules.features):
            if not feature.applies_to(device):
                continue
            current = best.get(feature.name)
            if current is None or feature.specificity > current[0]:
                best[feature.name] = (feature.specificity, index)
        chosen = sorted(index for _, index in best.values())
        return tuple(self._compile(index, device.platform) for index in chosen)

    def _compile(self, index: int, platform: Platform) -> CompiledFeature:
        cached = self._compiled.get((index, platform))
        if cached is not None:
            return cached
        feature = self.rules.features[index]
        where = f"feature {feature.name!r}"
        selector = SectionSelector(
            prefixes=_for_platform(feature.sections, platform),
            patterns=tuple(compile_pattern(p, where) for p in _for_platform(feature.patterns, platform)),
        )
        compiled = CompiledFeature(
            name=feature.name,
            selector=selector,
            ordered=feature.ordered,
            policies=feature.policies,
            policy_matches=tuple(
                tuple(compile_pattern(p, f"{where} policy {policy.name!r}") for p in policy.patterns)
                for policy in feature.policies
            ),
            policy_scopes=tuple(
                None if policy.match is None else compile_pattern(policy.match, f"{where} policy match")
                for policy in feature.policies
            ),
        )
        self._compiled[(index, platform)] = compiled
        return compiled


def compile_rules(rules: RuleSet) -> CompiledRules:
    """Compile every pattern of ``rules`` for every platform now, so a bad file fails on load.

    Raises:
        ConfigurationError: a pattern RE2 cannot compile.
    """
    compiled = CompiledRules(rules)
    for index, feature in enumerate(rules.features):
        for platform in feature.platforms or frozenset(Platform):
            compiled._compile(index, platform)
    return compiled


# -- section paths of config lines ----------------------------------------------------------------


def line_key(path: Sequence[str], line: str) -> str:
    """The section path of a line: its parents and itself, joined by spaces (Junos: without ``set``)."""
    if not path and line.startswith(_SET):
        return line[len(_SET) :].strip()
    return " ".join((*path, line)) if path else line


def drift_key(line: DriftLine) -> str:
    """The section path of a drift line."""
    return line_key(line.path, line.line)


@dataclass(frozen=True, slots=True)
class ConfigLine:
    """One configuration line with its parents and its section path."""

    path: tuple[str, ...]
    line: str
    key: str


@functools.lru_cache(maxsize=4)  # one analysis reads two texts; big configs are not kept long
def parsed_indented(text: str, comment_leaders: str) -> tuple[SectionNode, ...]:
    """``parse_indented`` memoized for the read-only walks of one analysis (features, remediation).

    The trees are shared: callers must not change them.
    """
    return tuple(parse_indented(text, comment_leaders))


def config_lines(masked: str, platform: Platform | None) -> list[ConfigLine]:
    """Every configuration line of a (masked) config, in document order, as the diff sees it."""
    shape = detect_shape(masked, platform)
    if shape in (ConfigShape.JUNOS_BRACES, ConfigShape.JUNOS_SET):
        return [
            ConfigLine(statement.path, statement.line, statement.key)
            for statement in parse_junos(masked, shape)
        ]
    out: list[ConfigLine] = []
    roots = parsed_indented(masked, rules_for(platform).comment_leaders)
    pending: list[tuple[SectionNode, tuple[str, ...]]] = [(node, ()) for node in reversed(roots)]
    while pending:
        node, path = pending.pop()
        out.append(ConfigLine(path, node.text, line_key(path, node.text)))
        below = (*path, node.text)
        pending.extend((child, below) for child in reversed(node.children))
    return out


def select(lines: Iterable[ConfigLine], selector: SectionSelector) -> list[ConfigLine]:
    """The lines of ``lines`` that belong to the selector's feature, in order."""
    return [line for line in lines if selector.matches(line.key)]
