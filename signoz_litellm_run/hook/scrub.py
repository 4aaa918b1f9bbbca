"""Secrets (and, on request, personal data) replaced in what we export, at a cost a call can carry.

Each value is checked against cheap trigger tests first (substring searches, which run in C at a few
instructions a character); only a value that holds a trigger runs the regular expressions of the kinds it
triggers, and each of those starts with a literal, so `re` searches it at C speed instead of trying every
position. A clean 2 KB prompt with its completion therefore costs a few tens of thousands of instructions
(`scripts/bench_scrub.py`), not the ~200 per character a combined regular expression costs.

Every built-in pattern runs in linear time and scans the whole value. Patterns given by the user cannot be
trusted that way, so: a pattern that can match the empty string, or whose repeats nest ambiguously (`(a+)+`,
`(\\w+\\s?)*`: exponential backtracking), is refused when the Scrubber is built (`PatternError`); the others scan a
long value in windows of `WINDOW` characters and stop after `CUSTOM_BUDGET_S` seconds of one value, the part not
scanned then replaced by `[REDACTED:unscanned]` (polynomial patterns such as `.*x` stay bounded that way).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

DEFAULT_KINDS = (
    "private_key", "jwt", "anthropic_key", "openai_key", "google_api_key", "aws_access_key_id",
    "github_token", "slack_token", "huggingface_token", "bearer_token", "url_credentials",
    "aws_secret_access_key", "azure_key", "credential",
)
PII_KINDS = ("email", "phone", "card_number")
CUSTOM_KIND = "custom"
UNSCANNED_KIND = "unscanned"  # a part a user pattern had no time left for, or a value scrubbing failed on

WINDOW = 4096  # characters a user pattern scans at once
OVERLAP = 256  # characters consecutive windows share: a match up to this long is found across a window edge
CUSTOM_BUDGET_S = 0.02  # seconds the user patterns may spend on one value before its rest is redacted

_ORDER = {kind: i for i, kind in enumerate(DEFAULT_KINDS + PII_KINDS + (CUSTOM_KIND, UNSCANNED_KIND))}


class PatternError(ValueError):
    """A user scrub pattern that cannot be used: not a regular expression, or one that could hang a process."""

    def __init__(self, pattern: object, reason: str) -> None:
        super().__init__(f"invalid scrub pattern {pattern!r}: {reason}")
        self.pattern = pattern
        self.reason = reason


# --- the built-in patterns, compiled on the first Scrubber -------------------------------------------------

_T = "A-Za-z0-9_-"  # token characters (base64url)
_PAIR_TAIL = (
    r"""(?P<kq>\\{0,3}["'])?[ \t]{0,8}(?P<sep>[:=])[ \t]{0,8}"""
    r"""(?:\\{0,3}(?P<q>["'])(?P<qv>[^\r\n]{0,1024}?)\\{0,3}(?P=q)"""
    r"""|(?P<v>[^\s"'\\,;&<>\[\](){}]{1,1024}))"""
)
_SOURCES = {
    "pem": r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:.{0,65536}?-----END[A-Z0-9 ]{0,40}PRIVATE"
           r" KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,.-]*)",
    "jwt": rf"eyJ(?<![{_T}]eyJ)[{_T}]{{5,}}\.eyJ[{_T}]{{5,}}\.[{_T}]*",
    "sk": rf"sk-(?<![{_T}]sk-)(?:(?P<ant>ant-)[{_T}]{{20,}}|(?=[A-Za-z_-]*[0-9])[{_T}]{{20,}})",
    "a": rf"A(?<![{_T}]A)(?:(?P<g>Iza)[{_T}]{{35}}|(?:KIA|SIA)[A-Z0-9]{{16}})(?![{_T}])",
    "gh": r"gh(?<![A-Za-z0-9_]gh)[pousr]_[A-Za-z0-9]{36,}",
    "ghpat": r"github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{22,}",
    "xox": r"xox(?<![A-Za-z0-9_-]xox)[abposr]-[A-Za-z0-9-]{10,}",
    "hf": r"hf_(?<![A-Za-z0-9_]hf_)[A-Za-z0-9]{30,}",
    # on the lower-cased text
    "bearer": r"bearer(?<![a-z0-9_]bearer)[ \t]+(?P<tok>[a-z0-9._~+/=-]{16,})",
    "url": r"://(?P<user>[^\s:/?#@\"'<>\\]{0,256}):(?P<pw>[^\s/?#\"'<>\\]{1,256})@",
    "pass": r"(?P<kw>pass(?:word|wd|phrase))" + _PAIR_TAIL,
    "pwd": r"(?P<kw>pwd)" + _PAIR_TAIL,
    "secret": r"(?P<kw>secret)" + _PAIR_TAIL,
    "key": r"(?P<kw>key)" + _PAIR_TAIL,
    "token": r"(?P<kw>token)" + _PAIR_TAIL,
    "auth": r"(?P<kw>authorization)" + _PAIR_TAIL.replace(
        "|(?P<v>", r"|(?:(?:basic|bearer|token|digest)[ \t]+)?(?P<v>"),
    "sig": r"[?&]sig=(?P<v>[A-Za-z0-9%+/=_-]{16,})",
    # personal data
    "email": r"@(?P<dom>[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}"
             r"[A-Za-z0-9])?)*\.[A-Za-z]{2,24})(?![A-Za-z0-9-])",
    "local": r"[A-Za-z0-9._%+-]{1,64}",  # an e-mail address's local part, read backwards
    "digits": r"[0-9][0-9 ().-]{5,30}[0-9]",
    "nanp": r"(?:1[ .-]?)?(?:\([0-9]{3}\)[ .-]?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}",
}
_RX: dict[str, re.Pattern[str]] = {}

# A key name ending in `key` is a secret's only in these forms (separators dropped): not `monkey`, `primary_key`.
_KEY_NAMES = ("apikey", "accesskey", "secretkey", "privatekey", "accountkey", "sharedaccesskey", "subscriptionkey",
              "masterkey", "encryptionkey", "signingkey", "clientkey", "authkey", "licensekey", "appkey", "serverkey")
# Values that name a secret's absence or type, not the secret (`password: str`, `"api_key": null`).
_NOT_SECRETS = frozenset(("null", "none", "nil", "true", "false", "undefined", "str", "string", "bytes", "int",
                          "bool", "any", "optional", "secretstr", "required", "redacted", "xxx", "***", "...",
                          "<redacted>", "your_api_key", "your-api-key", "changeme"))
_IDENT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_FILE_TLDS = frozenset(("png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff"))


def _compile() -> dict[str, re.Pattern[str]]:
    if not _RX:
        _RX.update({name: re.compile(source, re.ASCII | re.DOTALL) for name, source in _SOURCES.items()})
    return _RX


def _lower(text: str) -> str:
    """`text` lower-cased, position for position (a character whose lower case is longer becomes `?`)."""
    low = text.lower()
    if len(low) != len(text):
        low = text.encode("ascii", "replace").decode("ascii").lower()
    return low


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _pair_spans(rx: re.Pattern[str], low: str, kw: str, spans: list) -> None:
    """`name=value` / `"name": "value"` pairs whose name ends with a keyword found at `rx`; the value's span."""
    for m in rx.finditer(low):
        start = m.start()
        i = start
        while i > 0 and start - i < 64 and low[i - 1] in _IDENT:
            i -= 1
        name = low[i:m.end("kw")].replace("_", "").replace("-", "").replace(".", "")
        if kw == "key" and not name.endswith(_KEY_NAMES):
            continue
        if m.group("v") is not None:
            vs, ve = m.span("v")
            if ve < len(low) and low[ve] in "([":  # an expression (`os.environ[...]`, `get_key()`), not a value
                continue
        else:
            vs, ve = m.span("qv")
        value = low[vs:ve].strip()
        if not value or value in _NOT_SECRETS or value.startswith(("[redacted", "$", "{{", "<", "%(", "os.")):
            continue
        if "azure" in name or name.endswith(("accountkey", "sharedaccesskey", "ocpapimsubscriptionkey")):
            kind = "azure_key"
        elif name.endswith("secretaccesskey"):
            kind = "aws_secret_access_key"
        else:
            kind = "credential"
        spans.append((vs, ve, kind))


def _builtin_spans(text: str, pii: bool) -> list:
    """Where the built-in kinds are in `text`: (start, end, kind), unordered, possibly overlapping."""
    rx = _RX or _compile()
    spans: list = []
    add = spans.append
    if "PRIVATE KEY" in text:
        for m in rx["pem"].finditer(text):
            add((m.start(), m.end(), "private_key"))
    if "eyJ" in text:
        for m in rx["jwt"].finditer(text):
            add((m.start(), m.end(), "jwt"))
    if "sk-" in text:
        for m in rx["sk"].finditer(text):
            add((m.start(), m.end(), "anthropic_key" if m.group("ant") else "openai_key"))
    for m in rx["a"].finditer(text):
        add((m.start(), m.end(), "google_api_key" if m.group("g") else "aws_access_key_id"))
    if "_" in text:
        for m in rx["gh"].finditer(text):
            add((m.start(), m.end(), "github_token"))
        if "github_pat_" in text:
            for m in rx["ghpat"].finditer(text):
                add((m.start(), m.end(), "github_token"))
        if "hf_" in text:
            for m in rx["hf"].finditer(text):
                add((m.start(), m.end(), "huggingface_token"))
    if "xox" in text:
        for m in rx["xox"].finditer(text):
            add((m.start(), m.end(), "slack_token"))
    if "@" in text:
        if "://" in text:
            for m in rx["url"].finditer(text):
                add((m.start("pw"), m.end("pw"), "url_credentials"))
        if pii:
            _email_spans(rx, text, spans)
    if "sig=" in text:
        for m in rx["sig"].finditer(text):
            add((m.start("v"), m.end("v"), "azure_key"))
    low = _lower(text)
    if "bearer" in low:
        for m in rx["bearer"].finditer(low):
            tok = m.group("tok")
            if len(tok) >= 32 or any(c.isdigit() for c in tok):
                add((m.start("tok"), m.end("tok"), "bearer_token"))
    for kw in ("pass", "pwd", "secret", "key", "token", "authorization"):
        if kw in low:
            _pair_spans(rx["auth" if kw == "authorization" else kw], low, kw, spans)
    if pii:
        _number_spans(rx, text, spans)
    return spans


def _email_spans(rx: dict, text: str, spans: list) -> None:
    for m in rx["email"].finditer(text):
        at = m.start()
        if m.group("dom").rsplit(".", 1)[-1].lower() in _FILE_TLDS:  # `icon@2x.png`
            continue
        local = rx["local"].match(text[max(0, at - 64):at][::-1])
        if local is None:
            continue
        start = at - local.end()
        if start and text[start - 1] in ":/":  # the user and password of a URL (`url_credentials`)
            continue
        spans.append((start, m.end(), "email"))


def _number_spans(rx: dict, text: str, spans: list) -> None:
    """Card numbers (13-19 digits, spaces or dashes between groups, an issuer's first digit, Luhn-checked) and
    phone numbers (`+` and 8-15 digits, or the North American `(555) 123-4567` forms); not bare digit runs,
    dates, versions or addresses."""
    for m in rx["digits"].finditer(text):
        start, end = m.span()
        before = text[start - 1] if start else " "
        if before.isalnum() or before in "_-./" or (end < len(text) and (text[end].isalnum() or text[end] == "_")):
            continue
        cand = m.group()
        digits = "".join(c for c in cand if c.isdigit())
        seps = set(cand) - set("0123456789")
        if 13 <= len(digits) <= 19 and seps <= {" "} | {"-"} and len(seps) <= 1 and digits[0] in "23456" \
                and "  " not in cand and "--" not in cand and _luhn(digits):
            spans.append((start, end, "card_number"))
        elif before == "+" and 8 <= len(digits) <= 15:
            spans.append((start - 1, end, "phone"))
        elif rx["nanp"].fullmatch(cand):
            spans.append((start, end, "phone"))
        elif before == "(" and rx["nanp"].fullmatch("(" + cand):
            spans.append((start - 1, end, "phone"))


# --- user patterns -------------------------------------------------------------------------------------------

try:  # Python 3.11+
    from re import _compiler as _sre_cc  # type: ignore[attr-defined]
    from re import _constants as _sre_c  # type: ignore[attr-defined]
    from re import _parser as _sre_p  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_compile as _sre_cc  # type: ignore[no-redef]
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_p  # type: ignore[no-redef]
_sre_compile = _sre_cc.compile

_SAMPLES = [chr(i) for i in range(9, 127)] + ["\u00e9", "\u0436", "\u4e2d", "\u00a0", "\u2028"]
_BIG = 16  # a repeat allowed more times than this counts as unbounded


def _chars(node: tuple, flags: int) -> frozenset:
    """The sample characters one single-character node matches."""
    sub = _sre_p.SubPattern(_sre_p.State(), [node])
    try:
        compiled = _sre_compile(sub, flags)
    except Exception:
        return frozenset(_SAMPLES)
    return frozenset(c for c in _SAMPLES if compiled.fullmatch(c))


def _first(seq, flags: int) -> tuple[frozenset, bool]:
    """The sample characters `seq` can start with, and whether it can match the empty string."""
    out: frozenset = frozenset()
    for op, av in seq:
        chars, nullable = _first_item(op, av, flags)
        out |= chars
        if not nullable:
            return out, False
    return out, True


def _first_item(op, av, flags: int) -> tuple[frozenset, bool]:
    c = _sre_c
    if op in (c.LITERAL, c.NOT_LITERAL, c.IN, c.ANY):
        return _chars((op, av), flags), False
    if op is c.SUBPATTERN:
        return _first(av[-1], flags | (av[1] or 0))
    if op in (c.MAX_REPEAT, c.MIN_REPEAT) or op is getattr(c, "POSSESSIVE_REPEAT", None):
        chars, nullable = _first(av[2], flags)
        return chars, nullable or av[0] == 0
    if op is c.BRANCH:
        out: frozenset = frozenset()
        any_null = False
        for alt in av[1]:
            chars, nullable = _first(alt, flags)
            out |= chars
            any_null = any_null or nullable
        return out, any_null
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _first(av, flags)
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return frozenset(), True
    return frozenset(_SAMPLES), True  # group references and the like: anything


def _overlaps(seq, follow: frozenset, flags: int) -> bool:
    """An unbounded repeat in `seq` that can take a character its follower can also start with (`follow`: what
    can come after `seq`): the repeat and its follower can share a run of characters in more than one way."""
    c = _sre_c
    for op, av in reversed(list(seq)):
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            lo, hi, item = av
            first, nullable = _first(item, flags)
            if hi > _BIG and first & follow:
                return True
            if _overlaps(item, follow | first if hi > 1 else follow, flags):
                return True
            follow = first | follow if lo == 0 or nullable else first
        elif op is c.SUBPATTERN:
            if _overlaps(av[-1], follow, flags | (av[1] or 0)):
                return True
            first, nullable = _first(av[-1], flags)
            follow = first | follow if nullable else first
        elif op is c.BRANCH:
            if any(_overlaps(alt, follow, flags) for alt in av[1]):
                return True
            first, nullable = _first_item(op, av, flags)
            follow = first | follow if nullable else first
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        else:
            follow = _first_item(op, av, flags)[0]
    return False


def _ambiguous(seq, flags: int) -> bool:
    """A repeat whose iterations can split one string in many ways: the catastrophic-backtracking shape
    (`(a+)+`, `(.*a)+`, `(\\w+\\s?)+`; not `(-\\d+)+` or `(\\d+,)+`)."""
    c = _sre_c
    for op, av in seq:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            if av[1] > _BIG and _overlaps(av[2], _first(av[2], flags)[0], flags):
                return True
            if _ambiguous(av[2], flags):
                return True
        elif op is c.SUBPATTERN:
            if _ambiguous(av[-1], flags | (av[1] or 0)):
                return True
        elif op is c.BRANCH:
            if any(_ambiguous(alt, flags) for alt in av[1]):
                return True
        elif op in (c.ASSERT, c.ASSERT_NOT):
            if _ambiguous(av[1], flags):
                return True
    return False


def _compile_user(pattern: object) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise PatternError(pattern, "a pattern is a string")
    try:
        compiled = re.compile(pattern)
        parsed = _sre_p.parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        raise PatternError(pattern, str(exc)) from None
    flags = compiled.flags
    if _first(list(parsed), flags)[1]:
        raise PatternError(pattern, "it can match an empty string (use + instead of *, or add a literal)")
    if _ambiguous(list(parsed), flags):
        raise PatternError(pattern, "nested repeats can take exponential time on some values (as `(a+)+` does);"
                                    " make each repetition start with something the previous one cannot end"
                                    " with")
    return compiled


# --- the scrubber --------------------------------------------------------------------------------------------

class Scrubber:
    """Replaces secrets in exported strings by `[REDACTED:<kind>]`; `pii=True` adds e-mail addresses, phone and
    card numbers; `extra_patterns` are the user's regular expressions (kind `custom`)."""

    __slots__ = ("pii", "_custom", "_clock")

    def __init__(self, extra_patterns: Sequence[str] = (), pii: bool = False) -> None:
        if isinstance(extra_patterns, str):
            extra_patterns = (extra_patterns,)
        self._custom = tuple(_compile_user(p) for p in extra_patterns)
        self.pii = bool(pii)
        self._clock = time.perf_counter
        _compile()

    def scrub(self, text: str) -> tuple[str, tuple[str, ...]]:
        """`text` with its secrets replaced, and the kinds replaced (in a stable order); `text` itself and `()`
        when nothing was found."""
        if type(text) is not str:
            return self.scrub_value(text)
        if len(text) < 5 and not self._custom:  # `pwd=x` is the shortest secret we know
            return text, ()
        try:
            spans = _builtin_spans(text, self.pii)
            if self._custom:
                self._custom_spans(text, spans)
            if not spans:
                return text, ()
            return _apply(text, spans)
        except Exception:  # never the program's problem: what we could not scan does not leave
            return f"[REDACTED:{UNSCANNED_KIND}]", (UNSCANNED_KIND,)

    def scrub_value(self, value):
        """`scrub` for an attribute value: a string, bytes (as UTF-8), or a list/tuple of strings (a new one of the
        same type when any changed); anything else back unchanged with `()`."""
        try:
            kind = type(value)
            if kind is str:
                return self.scrub(value)
            if kind is list or kind is tuple:
                out = None
                found: set = set()
                for i, item in enumerate(value):
                    if type(item) is not str:
                        continue
                    new, kinds = self.scrub(item)
                    if kinds:
                        if out is None:
                            out = list(value)
                        out[i] = new
                        found.update(kinds)
                if out is None:
                    return value, ()
                return (out if kind is list else tuple(out)), tuple(sorted(found, key=_ORDER.__getitem__))
            if kind is bytes or kind is bytearray:
                new, kinds = self.scrub(bytes(value).decode("utf-8", "surrogateescape"))
                if not kinds:
                    return value, ()
                return new.encode("utf-8", "surrogateescape"), kinds
        except Exception:
            return value, ()
        return value, ()

    def _custom_spans(self, text: str, spans: list) -> None:
        deadline = self._clock() + CUSTOM_BUDGET_S
        n = len(text)
        for rx in self._custom:
            pos = 0
            while pos < n:
                end = min(n, pos + WINDOW)
                last = pos
                for m in rx.finditer(text, pos, end):
                    if m.end() > m.start():
                        spans.append((m.start(), m.end(), CUSTOM_KIND))
                        last = m.end()
                if end >= n:
                    break
                if self._clock() > deadline:
                    spans.append((end, n, UNSCANNED_KIND))
                    return
                pos = max(last, end - OVERLAP)


def _apply(text: str, spans: list) -> tuple[str, tuple[str, ...]]:
    """`text` with `spans` replaced: overlapping or touching spans become one, named for the first kind in
    `_ORDER`."""
    spans.sort()
    out = []
    kinds = set()
    pos = 0
    cur_s, cur_e, cur_k = spans[0]
    for s, e, k in spans[1:]:
        if s <= cur_e:
            if e > cur_e:
                cur_e = e
            if _ORDER[k] < _ORDER[cur_k]:
                cur_k = k
            continue
        out.append(text[pos:cur_s])
        out.append(f"[REDACTED:{cur_k}]")
        kinds.add(cur_k)
        pos = cur_e
        cur_s, cur_e, cur_k = s, e, k
    out.append(text[pos:cur_s])
    out.append(f"[REDACTED:{cur_k}]")
    kinds.add(cur_k)
    out.append(text[cur_e:])
    return "".join(out), tuple(sorted(kinds, key=_ORDER.__getitem__))
