"""Secrets (and, on request, personal data) replaced in what we export, at a cost a call can carry.

Each value is checked against cheap trigger tests first (substring searches, which run in C at a few
instructions a character); only a value that holds a trigger runs the regular expressions of the kinds it
triggers, and each of those starts with a literal, so `re` searches it at C speed instead of trying every
position. A clean call's 2 KB prompt and 1 KB completion (as JSON message attributes) cost about 190 K
instructions (`scripts/bench_scrub.py`); one combined regular expression costs 50-150 a character, and a Python
loop over separators ~5 K each.

Every built-in pattern runs in linear time and scans the whole value. Patterns given by the user cannot be
trusted that way: one that can match the empty string or backtrack exponentially or cubically is refused when the
Scrubber is built (`PatternError`, `scrub_patterns.py`); the others scan a long value in windows of `WINDOW`
characters and stop after `CUSTOM_BUDGET_S` seconds of one value, the part not scanned then replaced by
`[REDACTED:unscanned]` (a quadratic pattern such as `.*z` stays bounded that way).
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


# --- the built-in patterns, each compiled when a value first triggers it --------------------------------------

_T = "A-Za-z0-9_-"  # token characters (base64url)
_SOURCES = {
    "pem": r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:.{0,65536}?-----END[A-Z0-9 ]{0,40}PRIVATE"
           r" KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,.-]*)",
    "jwt": rf"eyJ(?<![{_T}]eyJ)[{_T}]{{5,}}\.eyJ[{_T}]{{5,}}\.[{_T}]*",
    "sk": rf"sk-(?<![{_T}]sk-)(?:(?P<ant>ant-)[{_T}]{{20,}}|(?=[A-Za-z_-]*[0-9])[{_T}]{{20,}})",
    "a": rf"A(?<![{_T}]A)(?:(?P<g>Iza)[{_T}]{{35}}|(?:KIA|SIA)[A-Z0-9]{{16}})(?![{_T}])",
    # GitHub and Hugging Face tokens, found from their underscore (one pass for all three prefixes)
    "under": r"_(?:(?<![A-Za-z0-9_]gh[pousr]_)(?<=gh[pousr]_)(?P<gh>[A-Za-z0-9]{36,})"
             r"|(?<![A-Za-z0-9_]github_pat_)(?<=github_pat_)(?P<pat>[A-Za-z0-9_]{22,})"
             r"|(?<![A-Za-z0-9_]hf_)(?<=hf_)(?P<hf>[A-Za-z0-9]{30,}))",
    "xox": r"xox(?<![A-Za-z0-9_-]xox)[abposr]-[A-Za-z0-9-]{10,}",
    "bearer": r"earer(?<![A-Za-z0-9_][Bb]earer)(?<=[Bb]earer)[ \t]+(?P<tok>[A-Za-z0-9._~+/=-]{16,})",
    "url": r"://(?P<user>[^\s:/?#@\"'<>\\]{0,256}):(?P<pw>[^\s/?#\"'<>\\]{1,256})@",
    "sig": r"[?&]sig=(?P<v>[A-Za-z0-9%+/=_-]{16,})",
    # a pair's value, from the end of its name: `=v`, `: v`, `": "v"`, `\": \"v\"` (JSON in JSON)
    "tail": r"""(?:\\{0,3}["'])?[ \t]{0,8}[:=][ \t]{0,8}"""
            r"""(?:\\{0,3}(?P<q>["'])(?P<qv>[^\r\n]{0,1024}?)\\{0,3}(?P=q)"""
            r"""|(?:(?i:basic|bearer|token|digest)[ \t]+)?(?P<v>[^\s"'\\,;&<>\[\](){}]{1,1024}))""",
    "name": r"[a-z0-9_.-]{1,64}",  # a pair's name, read backwards
    # personal data
    "email": r"@(?P<dom>[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}"
             r"[A-Za-z0-9])?)*\.[A-Za-z]{2,24})(?![A-Za-z0-9-])",
    "local": r"[A-Za-z0-9._%+-]{1,64}",  # an e-mail address's local part, read backwards
    "digits": r"[0-9][0-9 ().-]{5,30}[0-9]",
    "000": r"000",  # in the digit skeleton
    "nanp": r"(?:1[ .-]?)?(?:\([0-9]{3}\)[ .-]?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}",
}
_RX: dict[str, re.Pattern[str]] = {}

# Pair names that hold a secret, by their ending: `DB_PASSWORD`, `client_secret`, `X-Auth-Token`, ...
_KEYWORDS = ("password", "passwd", "passphrase", "pwd", "secret", "token", "key", "authorization")
# A name ending in `key` is a secret's only in these forms (separators dropped): not `monkey`, `primary_key`.
_KEY_NAMES = ("apikey", "accesskey", "secretkey", "privatekey", "accountkey", "sharedaccesskey", "subscriptionkey",
              "masterkey", "encryptionkey", "signingkey", "clientkey", "authkey", "licensekey", "appkey", "serverkey")
# Values that name a secret's absence or type, not the secret (`password: str`, `"api_key": null`).
_NOT_SECRETS = frozenset(("null", "none", "nil", "true", "false", "undefined", "str", "string", "bytes", "int",
                          "bool", "any", "optional", "secretstr", "required", "redacted", "xxx", "***", "...",
                          "<redacted>", "your_api_key", "your-api-key", "changeme"))
_FILE_TLDS = frozenset(("png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff"))
_NAMES_BUT_PWD = ("pass", "secret", "token", "key", "authorization")  # `pwd` is looked for next to `=` only
_MIN_TOKEN = 15  # no token kind is shorter (`xoxb-` and 10 characters)


def _rx(name: str) -> re.Pattern:
    rx = _RX.get(name)
    if rx is None:
        source = _SOURCES[name]
        rx = _RX[name] = re.compile(source.encode() if name == "000" else source, re.ASCII | re.DOTALL)
    return rx


def _compile() -> None:
    """Every built-in pattern compiled now (tests; a process that wants no compile at its first secret)."""
    for name in _SOURCES:
        _rx(name)


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


def _builtin_spans(text: str, pii: bool) -> list:
    """Where the built-in kinds are in `text`: (start, end, kind), unordered, possibly overlapping. Each kind's
    pattern runs only when its trigger (a substring search in C) is in the text."""
    spans: list = []
    add = spans.append
    if len(text) >= _MIN_TOKEN:
        if "PRIVATE KEY" in text:
            for m in _rx("pem").finditer(text):
                add((m.start(), m.end(), "private_key"))
        if "J" in text and "eyJ" in text:
            for m in _rx("jwt").finditer(text):
                add((m.start(), m.end(), "jwt"))
        if "sk-" in text:
            for m in _rx("sk").finditer(text):
                add((m.start(), m.end(), "anthropic_key" if m.group("ant") else "openai_key"))
        if "AKIA" in text or "ASIA" in text or "AIza" in text:
            for m in _rx("a").finditer(text):
                add((m.start(), m.end(), "google_api_key" if m.group("g") else "aws_access_key_id"))
        if "_" in text:
            _underscore_spans(text, spans)
        if "xox" in text:
            for m in _rx("xox").finditer(text):
                add((m.start(), m.end(), "slack_token"))
        if "earer" in text:
            for m in _rx("bearer").finditer(text):
                tok = m.group("tok")
                if len(tok) >= 32 or any(c.isdigit() for c in tok):
                    add((m.start("tok"), m.end("tok"), "bearer_token"))
    eq = "=" in text
    if eq or ":" in text:
        if "@" in text and "://" in text:
            for m in _rx("url").finditer(text):
                add((m.start("pw"), m.end("pw"), "url_credentials"))
        if eq and "sig=" in text:
            for m in _rx("sig").finditer(text):
                add((m.start("v"), m.end("v"), "azure_key"))
        _pair_spans(text, _lower(text), eq, spans)
    if pii:
        if "@" in text:
            _email_spans(text, spans)
        _number_spans(text, spans)
    return spans


def _pair_spans(text: str, low: str, eq: bool, spans: list) -> None:
    """The values of `name=value` / `name: value` / `"name": "value"` pairs whose name says it holds a secret.
    The names' endings are searched in the lower-cased text (C); the pattern of a pair is tried only where one is
    followed by what starts a separator. (Trying each separator instead costs more: JSON has many.)"""
    n = len(text)
    for kw in ("pass", "pwd", "secret", "token", "key", "authorization") if eq else _NAMES_BUT_PWD:
        i = low.find(kw)
        while i >= 0:
            end = i + len(kw)
            if kw == "pass":
                end = i + (8 if low.startswith("password", i) else 6 if low.startswith("passwd", i) else
                           10 if low.startswith("passphrase", i) else 0)
            if end > i and end < n:
                c = low[end]
                if c == " " or c == "\t":  # `password = x`, but not `token for`
                    j = end + 1
                    while j < n and j - end < 8 and low[j] in " \t":
                        j += 1
                    c = low[j] if j < n else ""
                if c and c in ":=\"'\\":
                    _pair_at(text, end, spans)
            i = low.find(kw, i + 1)


def _underscore_spans(text: str, spans: list) -> None:
    """GitHub (`ghp_`, `gho_`, `ghs_`, `ghu_`, `ghr_`, `github_pat_`) and Hugging Face (`hf_`) tokens, found from
    their underscore: a few underscores (JSON keys, prose) are looked at one by one, many (code) by a pattern."""
    found: list = []
    seen = 0
    i = text.find("_")
    while i >= 0:
        seen += 1
        if seen > 8:
            found = list(_rx("under").finditer(text))
            break
        m = _rx("under").match(text, i)
        if m is not None:
            found.append(m)
        i = text.find("_", i + 1)
    for m in found:
        if m.group("gh"):
            spans.append((m.start() - 3, m.end(), "github_token"))
        elif m.group("pat"):
            spans.append((m.start() - 10, m.end(), "github_token"))
        else:
            spans.append((m.start() - 2, m.end(), "huggingface_token"))


def _pair_at(text: str, end: int, spans: list) -> None:
    """The pair whose name ends at `end`, if its name and value are a secret's."""
    m = _rx("tail").match(text, end)
    if m is None:
        return
    found = _rx("name").match(text[max(0, end - 64):end][::-1].lower())
    if found is None:
        return
    name = found.group()[::-1].replace("_", "").replace("-", "").replace(".", "")
    if not name.endswith(_KEYWORDS) or (name.endswith("key") and not name.endswith(_KEY_NAMES)):
        return
    if m.group("v") is not None:
        vs, ve = m.span("v")
        if ve < len(text) and text[ve] in "([":  # an expression (`os.environ[...]`, `get_key()`), not a value
            return
    else:
        vs, ve = m.span("qv")
    value = text[vs:ve].strip().lower()
    if not value or value in _NOT_SECRETS or value.startswith(("[redacted", "$", "{{", "<", "%(", "os.")):
        return
    if "azure" in name or name.endswith(("accountkey", "sharedaccesskey", "ocpapimsubscriptionkey")):
        kind = "azure_key"
    elif name.endswith("secretaccesskey"):
        kind = "aws_secret_access_key"
    else:
        kind = "credential"
    spans.append((vs, ve, kind))


def _email_spans(text: str, spans: list) -> None:
    local_rx = _rx("local")
    for m in _rx("email").finditer(text):
        at = m.start()
        if m.group("dom").rsplit(".", 1)[-1].lower() in _FILE_TLDS:  # `icon@2x.png`
            continue
        local = local_rx.match(text[max(0, at - 64):at][::-1])
        if local is None:
            continue
        start = at - local.end()
        if start and text[start - 1] in ":/":  # the user and password of a URL (`url_credentials`)
            continue
        spans.append((start, m.end(), "email"))


_DIGIT_SKELETON = bytes(48 if 48 <= i <= 57 else i for i in range(256))  # every digit becomes `0`


def _digit_runs(text: str) -> list:
    """Candidate phone and card numbers: (start, end) of stretches of 7 to 32 digits and `().- ` that hold a run
    of 3 digits. The runs are found in a copy with every digit turned into `0`, by a search
    for one literal (`000`) that `re` runs at C speed; a pattern starting with "a digit" would be tried at every
    position (about 15 times the cost)."""
    skeleton = text.encode("ascii", "replace").translate(_DIGIT_SKELETON)
    runs = []
    end = -1
    digits = _rx("digits")
    for m in _rx("000").finditer(skeleton):
        if m.start() < end:
            continue
        start = m.start()
        limit = min(len(text), m.end() + 32)
        found = digits.search(text, max(0, start - 24), limit)
        while found is not None and found.end() <= start:
            found = digits.search(text, found.end(), limit)
        if found is None:
            end = m.end()
            continue
        runs.append(found.span())
        end = found.end()
    return runs


def _number_spans(text: str, spans: list) -> None:
    """Card numbers (13-19 digits, spaces or dashes between groups, an issuer's first digit, Luhn-checked) and
    phone numbers (`+` and 8-15 digits, or the North American `(555) 123-4567` forms); not bare digit runs,
    dates, versions or addresses."""
    nanp = None
    for start, end in _digit_runs(text):
        before = text[start - 1] if start else " "
        if before.isalnum() or before in "_-./" or (end < len(text) and (text[end].isalnum() or text[end] == "_")):
            continue
        cand = text[start:end]
        digits = "".join(c for c in cand if c.isdigit())
        seps = set(cand) - set("0123456789")
        if 13 <= len(digits) <= 19 and seps <= {" ", "-"} and len(seps) <= 1 and digits[0] in "23456" \
                and "  " not in cand and "--" not in cand and _luhn(digits):
            spans.append((start, end, "card_number"))
            continue
        if before == "+":
            if 8 <= len(digits) <= 15:
                spans.append((start - 1, end, "phone"))
            continue
        nanp = nanp or _rx("nanp")
        if nanp.fullmatch(cand):
            spans.append((start, end, "phone"))
        elif before == "(" and nanp.fullmatch("(" + cand):
            spans.append((start - 1, end, "phone"))


# --- the scrubber --------------------------------------------------------------------------------------------

class Scrubber:
    """Replaces secrets in exported strings by `[REDACTED:<kind>]`; `pii=True` adds e-mail addresses, phone and
    card numbers; `extra_patterns` are the user's regular expressions (kind `custom`)."""

    __slots__ = ("pii", "_custom", "_clock")

    def __init__(self, extra_patterns: Sequence[str] = (), pii: bool = False) -> None:
        if isinstance(extra_patterns, str):
            extra_patterns = (extra_patterns,)
        if extra_patterns:
            from signoz_litellm_run.hook.scrub_patterns import compile_pattern

            self._custom = tuple(compile_pattern(p) for p in extra_patterns)
        else:
            self._custom = ()
        self.pii = bool(pii)
        self._clock = time.perf_counter

    def scrub(self, text: str) -> tuple[str, tuple[str, ...]]:
        """`text` with its secrets replaced, and the kinds replaced (in a stable order); `text` itself and `()`
        when nothing was found."""
        if type(text) is not str:
            return self.scrub_value(text)
        if len(text) < _MIN_TOKEN and ":" not in text and "=" not in text and (
                not self.pii or ("@" not in text and _rx("digits").search(text) is None)):
            # too short for a token, no pair: most attribute values (model, ids, finish reason)
            return self._scrub(text, False) if self._custom else (text, ())
        return self._scrub(text, True)

    def _scrub(self, text: str, builtin: bool) -> tuple[str, tuple[str, ...]]:
        try:
            spans = _builtin_spans(text, self.pii) if builtin else []
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
                if len(value) < _MIN_TOKEN and ":" not in value and "=" not in value and (
                        not self.pii or ("@" not in value and _rx("digits").search(value) is None)):
                    return self._scrub(value, False) if self._custom else (value, ())
                return self._scrub(value, True)
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
        n = len(text)
        if n <= WINDOW:  # one window, the most any value costs before the budget is looked at
            for rx in self._custom:
                for m in rx.finditer(text):
                    if m.end() > m.start():
                        spans.append((m.start(), m.end(), CUSTOM_KIND))
            return
        deadline = self._clock() + CUSTOM_BUDGET_S
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
