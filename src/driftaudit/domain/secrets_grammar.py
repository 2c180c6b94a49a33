"""Secrets found by vendor grammar: the value after a secret keyword, wherever the keyword is.

Listing line shapes one by one (``username ... password``, ``neighbor ...
password``, ``ip ftp password``...) always misses the next shape. Network OS
grammars are regular in one way that matters here: a secret is the word that
follows a *secret keyword* (``password``, ``secret``, ``key``, ``key-string``,
``community``, ``authentication-key``, ``pre-shared-key``, ``shared-key``,
``md5``, SNMPv3 ``auth``/``priv``, ``plain-text-password-value``,
``encrypted-password``, ...), possibly after an *encryption-type marker*
(``0 5 7 8 9``, ``encrypted``, ``clear``, ``sha512``, Junos ``ascii-text``),
a key id with its algorithm (``1 md5``), or an SNMPv3 algorithm and key
length (``sha``, ``aes 128``). The marker is kept (it is configuration: a
changed encryption type is drift); only the value is masked.

Identifiers are not secrets: a bare number after ``key`` is a key id (``key
1`` in a key chain, ``tunnel key 100``), words such as ``chain`` or
``key-chain`` after a keyword name something rather than hide it, and the
SNMPv3 user of an ``snmp-server host ... version 3`` line is a user name.

The grammar is positional, never a guess about the value: every decision
depends on the keyword, the markers and the *number* of words on the line,
never on what the value looks like. A value replaced by a mask token is still
one word in the same place, so masking masked text finds the same positions
and leaves the tokens alone: ``mask(mask(x)) == mask(x) == mask(redact(x))``.

Hash forms (``$1$``, ``$5$``, ``$6$``, ``$8$``, ``$9$``, ``$sha512$``...) are
left to the ``crypt-hash`` pattern, which masks them anywhere (and lets an
operator ignore re-salted hashes); this module only reports the other
values. A keyword prefilter in RE2 finds the lines that hold a keyword in one
pass; a small Python tokenizer reads those lines only. Both are built from our
own vocabulary, never from configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from driftaudit.domain.models import Platform
from driftaudit.domain.re2scan import Scanner

__all__ = ["SecretGrammar", "SecretSpan", "grammar_for"]

_JUNOS_PLATFORMS: Final = frozenset({Platform.JUNOS, Platform.JUNOS_SET})

#: Keywords a value follows, on every platform.
_COMMON: Final = (
    "password",
    "secret",
    "key",
    "key-string",
    "authentication-key",
    "pre-shared-key",
    "shared-key",
    "shared-secret",
    "server-key",
    "md5",
    "community",
    "auth",
    "priv",
)
_CISCO_ONLY: Final = (
    "passwd",
    "message-digest-key",
    "password-encrypt",
    "ldap-login-password",
    "wpa-psk",
    "text",
    *(f"key{digit}" for digit in range(10)),
)
_JUNOS_ONLY: Final = (
    "encrypted-password",
    "plain-text-password-value",
    "simple-password",
    "privacy-key",
    "authentication-password",
    "privacy-password",
    "chap-secret",
    "default-chap-secret",
    "pap-password",
    "ascii-text",
    "hexadecimal",
)

#: Encryption-type markers kept between a keyword and its value.
_CISCO_MARKERS: Final = frozenset(
    {*(str(n) for n in range(11)), "encrypted", "clear", "sha512", "sha256", "hidden"}
)
_JUNOS_MARKERS: Final = frozenset({"ascii-text", "hexadecimal", "value"})
#: Markers after which a value is a Cisco type 7 string (decoded before fingerprinting).
_TYPE7_MARKERS: Final = frozenset({"7", "encrypted"})
#: Words between a keyword and its marker that qualify the secret: ``enable secret level 15``.
_MODIFIERS_WITH_ARGUMENT: Final = frozenset({"level", "type"})
_MODIFIERS: Final = frozenset({"local", "remote", "ascii", "hex", "unencrypted"})
#: Algorithms after a key id (``message-digest-key 1 md5``) or an SNMPv3 ``auth``/``priv``.
_AUTH_ALGORITHMS: Final = frozenset(
    {"md5", "sha", "sha1", "sha-1", "sha224", "sha-224", "sha256", "sha-256", "sha384", "sha-384"}
    | {"sha512", "sha-512", "sha2-256", "sha2-384", "sha2-512", "hmac-md5", "hmac-sha-1", "hmac-sha1"}
    | {"hmac-sha-256", "hmac-sha256", "cmac-aes"}
)
_PRIV_ALGORITHMS: Final = frozenset(
    {"des", "des56", "3des", "aes", "aes128", "aes-128", "aes192", "aes-192", "aes256", "aes-256"}
    | {"aes-cfb-128", "aes-cfb-192", "aes-cfb-256"}
)
#: Words after which ``key N`` names a key instead of hiding one.
_KEY_ID_AFTER: Final = frozenset({"tunnel", "trusted-key"})
#: Junos keywords a key id may follow: ``authentication-key 1 type md5 value V``, ``key 0 secret V``.
_JUNOS_ID_KEYWORDS: Final = frozenset({"authentication-key", "key", "md5"})
_KEY_LENGTHS: Final = frozenset({"128", "192", "256"})
#: Words after a keyword that make it a command, not a secret (``password encryption aes``,
#: ``key chain X``, ``md5 key-chain X``, ``pre-shared-key address A key V``).
_NOT_VALUES: Final = frozenset(
    {"chain", "key-chain", "keychain", "encryption", "config-key", "generate", "zeroize", "import"}
    | {"export", "pubkey-chain", "storage", "address", "hostname", "strength-check", "policy"}
    | {"restriction", "minimum", "minimum-length", "min-length", "prompt", "required", "lifetime"}
    | {"history", "format", "hash", "add", "delete", "set", "members", "use-vrf", "filter-vrf"}
    | {"udp-port", "source-interface", "mode", "algorithm", "retry"}
    | {"change-interval", "rollover", "accept-lifetime", "send-lifetime", "cryptographic-algorithm"}
    | {"encryption-type", "encrypt", "rsa", "ec", "ssh-rsa", "ssh-dss", "ssh-ecdsa", "ssh-ed25519"}
)
#: Keywords that only hold a secret right after one of these words.
_ONLY_AFTER: Final = {"text": frozenset({"authentication"})}
#: Keywords that never hold a secret right after one of these words (``crypto key generate``).
_NEVER_AFTER: Final = {"key": frozenset({"crypto", "ssh", "public-key", "authorized-key"})}
_MASK_TOKEN: Final = ("<secret:", "<volatile:")
#: Statements whose words are free text, never a secret position.
_FREE_TEXT: Final = frozenset({"description", "remark"})
_CISCO_WORD: Final = re.compile(r"\S+")
_JUNOS_WORD: Final = re.compile(r'"(?:[^"\\\n]|\\.)*"?|[^\s;{}\[\]"]+')
_NUMBER: Final = re.compile(r"\d+")
_ADDRESS: Final = re.compile(r"[0-9A-Fa-f:.]*[0-9][0-9A-Fa-f:.]*(?:/\d+)?")
#: Junos names its secret leaves consistently: ``preauthentication-secret``, ``chap-secret``,
#: ``pap-password``, ``privacy-key``... any such word is a keyword (not ``-key-chain``).
_SUFFIX_KEYWORD: Final = r"[a-z][a-z0-9-]*-(?:secret|password|key|passphrase)"
_SUFFIX: Final = re.compile(_SUFFIX_KEYWORD)
#: The indentation of a statement right under a top-level Junos block.
_JUNOS_INDENT: Final = 4


@dataclass(frozen=True, slots=True)
class SecretSpan:
    """Where one secret value lies in the text, and whether it is a Cisco type 7 string."""

    start: int
    end: int
    type7: bool = False


class _Word(NamedTuple):
    """One word of a line and where it lies (a tuple: the grammar makes one per word it reads)."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, eq=False)
class SecretGrammar:
    """The secret vocabulary of one platform family, with a keyword prefilter.

    ``junos`` selects Junos tokenization (quotes, ``;``, braces and ``##``
    comments are not part of a word) and Junos markers; ``cisco`` the Cisco
    family's markers, SNMP host positions and ``key1``-style keywords. An
    unknown platform gets both.
    """

    cisco: bool
    junos: bool
    keywords: frozenset[str] = field(init=False)
    markers: frozenset[str] = field(init=False)
    #: the RE2 source (multi-line mode) of one line that may hold a secret, as the prefilter scans for
    line_source: str = field(init=False, repr=False)
    _prefilter: Scanner = field(init=False, repr=False)

    def __post_init__(self) -> None:
        words = set(_COMMON)
        markers: set[str] = set()
        if self.cisco:
            words.update(_CISCO_ONLY)
            markers.update(_CISCO_MARKERS)
        if self.junos:
            words.update(_JUNOS_ONLY)
            markers.update(_JUNOS_MARKERS)
        object.__setattr__(self, "keywords", frozenset(words))
        object.__setattr__(self, "markers", frozenset(markers))
        alternation = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
        alternation += "|" + _SUFFIX_KEYWORD
        # whole lines holding a keyword as a whole word (not "send-community", "key-hash"); RE2's
        # DFA scans the text once, ten times faster than a Python alternation. Nothing in it
        # matches a line break ([^\S\n] is a blank other than a line break): a match is one line,
        # never a line and the next, so what a line masks to never depends on its neighbours
        keyword_line = rf"[^\n]*?(?:^|[^\S\n]|[\"\[{{;])(?:{alternation})(?:[^\S\n]|[;\"]|$)"
        if self.cisco:
            keyword_line += r"|[ \t]*snmp-server[ \t]+host[ \t]|[ \t]+host[ \t]"
        source = rf"^(?:{keyword_line})[^\n]*"
        object.__setattr__(self, "line_source", source)
        object.__setattr__(self, "_prefilter", Scanner(f"(?m){source}"))

    def is_keyword(self, word: str) -> bool:
        """Whether a value follows ``word``: a listed keyword, or a Junos ``*-secret``/``*-key`` word."""
        return word in self.keywords or (self.junos and _SUFFIX.fullmatch(word) is not None)

    def spans(self, text: str) -> Iterator[SecretSpan]:
        """Every secret value in ``text``, in order, each at most once.

        Values that already are mask tokens, and hash forms (left to the
        ``crypt-hash`` pattern), are not reported.
        """
        for start, end in self.lines(text):
            yield from self._line_spans(text, start, end)

    def lines(self, text: str) -> list[tuple[int, int]]:
        """The (start, end) of every line that may hold a secret, in order (the cheap RE2 prefilter)."""
        return [spans[0] for spans in self._prefilter.all_spans(text)]

    def line_spans(self, text: str, start: int, end: int) -> list[SecretSpan]:
        """The secret values in the line ``text[start:end]`` (one of :meth:`lines`), in order.

        They depend on that line's text alone: the same line masks the same
        wherever it stands.
        """
        return self._line_spans(text, start, end)

    def _words(self, text: str, start: int, end: int) -> list[_Word]:
        line = text[start:end]
        stripped = line.lstrip()
        if not stripped or stripped[0] in "!#":
            return []
        junos = self.junos and (not self.cisco or _looks_junos(stripped))
        words: list[_Word] = []
        if not junos:
            # the Cisco words are the runs of non-blanks (``\S+``): str.split finds the same runs with
            # the same notion of a blank, and each word starts at the first place it occurs from the
            # end of the one before (only blanks lie between, and a word holds none)
            position = 0
            for word in line.split():
                at = line.find(word, position)
                position = at + len(word)
                words.append(_Word(word, start + at, start + position))
            return words
        for match in _JUNOS_WORD.finditer(line):
            word = match.group()
            if junos and word.startswith("#"):
                break
            words.append(_Word(word, start + match.start(), start + match.end()))
        return words

    def _line_spans(self, text: str, start: int, end: int) -> list[SecretSpan]:
        # a list, not a generator: most lines hold one value or none, and a compiled generator costs
        # more to set up and drive than the list
        words = self._words(text, start, end)
        found: list[SecretSpan] = []
        if not words:
            return found
        line = text[start:end]
        names = [word.text for word in words]
        if names[0] in _FREE_TEXT:
            return found
        index = 0
        host = _snmp_host_start(names, line) if self.cisco else None
        if host is not None:
            value = _snmp_host_value(names, host)
            if value is not None and self.is_keyword(names[value]):
                index = value  # "snmp-server host IF A community C": the keyword holds it
            elif value is not None:
                span = _span(words[value], type7=names[value - 1] in _TYPE7_MARKERS)
                if span is not None:
                    found.append(span)
                index = value + 1
        while index < len(names):
            keyword = names[index]
            if not self.is_keyword(keyword) or not self._applies(names, index, line):
                index += 1
                continue
            value = self._value_index(names, index)
            if value is None:
                index += 1
                continue
            if self.is_keyword(names[value]) and value + 1 < len(names):
                index = value  # "md5 key-string 7 V": the next keyword holds the value
                continue
            span = _span(words[value], type7=_is_type7(names, index, value))
            if span is not None:
                found.append(span)
            index = value + 1
        return found

    def _applies(self, names: list[str], index: int, line: str) -> bool:
        """Whether the keyword at ``index`` holds a secret in this statement."""
        keyword = names[index]
        previous = names[index - 1] if index else ""
        allowed = _ONLY_AFTER.get(keyword)
        if allowed is not None and previous not in allowed:
            return False
        if previous in _NEVER_AFTER.get(keyword, ()):
            return False
        if keyword == "community":
            return self._snmp_statement(names, index, line)
        if keyword == "auth":
            return index + 1 < len(names) and names[index + 1].lower() in _AUTH_ALGORITHMS
        if keyword == "priv":
            following = names[index + 1].lower() if index + 1 < len(names) else ""
            return following in _PRIV_ALGORITHMS or names[:2] == ["snmp-server", "user"]
        return True

    def _snmp_statement(self, names: list[str], index: int, line: str) -> bool:
        """``community`` is a secret in SNMP configuration only, not in routing policy.

        Decided from the statement itself, so a line masks the same wherever it
        is: a Cisco line says ``snmp-server``, a Junos set line says ``snmp``;
        in Junos braces an SNMP community is a block (``community public {``)
        or a leaf right under the top-level ``snmp`` block, while a policy's
        community is ``community X members [...]`` or sits under ``from``/``then``.
        """
        before = names[:index]
        if "snmp-server" in before or "snmp" in before:
            return True
        if not self.junos or before or names[0] == "set":
            return False
        if index + 2 < len(names):
            return False  # "community X members [...]", "community add X"
        body = line.rstrip()
        if body.endswith("{"):
            return True
        return len(line) - len(line.lstrip()) == _JUNOS_INDENT and body.endswith(";")

    def _value_index(self, names: list[str], index: int) -> int | None:
        """The index of the value after the keyword at ``index``, or None when it holds none."""
        keyword = names[index]
        last = len(names) - 1
        position = index + 1
        if position > last:
            return None
        if keyword in ("auth", "priv"):
            if names[position].lower() in _AUTH_ALGORITHMS | _PRIV_ALGORITHMS and position < last:
                position += 1
                if names[position] in _KEY_LENGTHS and position < last:
                    position += 1
        else:
            while position < last:
                word = names[position]
                if word in _MODIFIERS_WITH_ARGUMENT and position + 1 < last:
                    position += 2
                elif word in _MODIFIERS:
                    position += 1
                elif _NUMBER.fullmatch(word) and names[position + 1].lower() in _AUTH_ALGORITHMS:
                    position += 2 if position + 2 <= last else 1  # a key id and its algorithm
                elif keyword in _JUNOS_ID_KEYWORDS and not self.cisco and _NUMBER.fullmatch(word):
                    position += 1  # a Junos key id: "authentication-key 1 type md5 value V"
                else:
                    break
            if position > last:
                return None
        if position < last and names[position] in self.markers:
            position += 1
        word = names[position]
        if word in _NOT_VALUES:
            return None
        if (
            keyword == "key"
            and position == index + 1
            and _NUMBER.fullmatch(word)
            and _names_a_key(names, index)
        ):
            return None  # "key 1" in a key chain, "tunnel key 100", "ntp server A key 3": an identifier
        return position


def _names_a_key(names: list[str], index: int) -> bool:
    """Whether ``key N`` here is a key id rather than a numeric secret (``tacacs-server key 1234``).

    A statement of its own (``key 1`` in a key chain, Junos ``key 0 {``), a
    tunnel key, or an NTP server's key reference.
    """
    return index == 0 or names[index - 1] in _KEY_ID_AFTER or names[0] == "ntp"


def _is_type7(names: list[str], keyword: int, value: int) -> bool:
    """Whether the value is a Cisco type 7 string: after ``7``/``encrypted``, before a trailing ``7``.

    IOS-XR's ``key-string password V`` is type 7 too.
    """
    if value - 1 > keyword and names[value - 1] in _TYPE7_MARKERS:
        return True
    if names[keyword] == "password" and keyword > 0 and names[keyword - 1] == "key-string":
        return True
    return value + 1 < len(names) and names[value + 1] == "7"


def _snmp_host_start(names: list[str], line: str) -> int | None:
    """Where the host address is on an SNMP host line, or None for any other line.

    ``snmp-server host A ...`` at the top level, or ``host A ...`` nested under
    ``snmp-server vrf V`` (IOS-XR), recognised by its own words (``traps``,
    ``informs``, ``version``) so a line masks the same wherever it stands.
    """
    if len(names) > 2 and names[0] == "snmp-server" and names[1] == "host":
        return 2
    if len(names) > 2 and names[0] == "host" and line[:1] in " \t":
        if any(word in ("traps", "informs", "version") for word in names[2:]):
            return 1
    return None


def _snmp_host_value(names: list[str], start: int = 2) -> int | None:
    """The community of ``snmp-server host [IF] ADDR [vrf V] [informs|traps|poll] [version V] [marker] C``.

    None for an SNMPv3 host (the word there is a user name) or a line that
    configures something else of the host (``use-vrf``, ``udp-port``).
    """
    position = start
    if (
        position + 1 < len(names)
        and not _ADDRESS.fullmatch(names[position])
        and _ADDRESS.fullmatch(names[position + 1])
    ):
        position += 1  # ASA: snmp-server host INTERFACE ADDRESS
    position += 1
    while position < len(names):
        word = names[position]
        if word == "vrf" and position + 1 < len(names):
            position += 2
        elif word in ("informs", "traps", "trap", "inform", "poll"):
            position += 1
        elif word == "version" and position + 1 < len(names):
            if names[position + 1] == "3":
                return None
            position += 2
        elif word in _CISCO_MARKERS and position + 1 < len(names):
            position += 1
        else:
            break
    if position >= len(names) or names[position] in _NOT_VALUES:
        return None
    return position


def _span(word: _Word, *, type7: bool) -> SecretSpan | None:
    """The span to mask for one value word, or None when there is nothing to mask."""
    start, end = word.start, word.end
    text = word.text
    if len(text) > 1 and text[0] == '"':
        start += 1
        end -= 1 if text.endswith('"') else 0
        text = text[1:-1] if text.endswith('"') else text[1:]
    if not text or any(token in text for token in _MASK_TOKEN) or _is_crypt_hash(text):
        return None
    return SecretSpan(start, end, type7=type7)


_CRYPT_HASH: Final = re.compile(r"\$(?:\d{1,2}|sha\d+|pbkdf2|2[aby]|y)\$")


def _is_crypt_hash(value: str) -> bool:
    return value.startswith("$") and _CRYPT_HASH.match(value) is not None


def _looks_junos(stripped: str) -> bool:
    return stripped.startswith("set ") or stripped.endswith((";", "{", "}")) or "## SECRET-DATA" in stripped


_GRAMMARS: Final = {
    "cisco": SecretGrammar(cisco=True, junos=False),
    "junos": SecretGrammar(cisco=False, junos=True),
    "any": SecretGrammar(cisco=True, junos=True),
}


def grammar_for(platform: Platform | None) -> SecretGrammar:
    """The secret grammar of ``platform``; an unknown platform gets every family's vocabulary."""
    if platform is None:
        return _GRAMMARS["any"]
    return _GRAMMARS["junos" if platform in _JUNOS_PLATFORMS else "cisco"]
