"""User scrub patterns checked before they run. Python's `re` backtracks, and a match cannot be stopped once it
runs (it holds the GIL, and we set no signal handler in the program), so a pattern that could take exponential
or cubic time on some value is refused when the Scrubber is built, with the reason (`PatternError`).

The check reads the parsed pattern (`re`'s own parser): inside an unbounded repeat, a part that can match one
string in more than one way (`(a+)+`, `(.*a)+`, `(a|aa)+`, `(a?a)+`: exponential); outside, two or more repeats
that can give characters back for the rest to retry (`.*a.*b`, `\\s*\\s*x`: cubic or worse). Which characters a
part can take is worked out on a sample alphabet (ASCII and a few others) by compiling the part alone. It errs
on the side of refusing. What it lets through backtracks at most quadratically (`.*z`), which `scrub.py` bounds
by scanning long values in windows under a time budget. Imported only by a Scrubber given patterns.
"""

from __future__ import annotations

import re

from signoz_litellm_run.hook.scrub import PatternError

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
    """A part of `seq` that can match one string in more than one way (`follow`: what can come after `seq`): a
    repeat of variable count, or an optional alternative, that can take a character its follower can start with;
    alternatives that can start alike. Inside a repeat, each such choice multiplies the ways to try."""
    c = _sre_c
    for op, av in reversed(list(seq)):
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            lo, hi, item = av
            first, nullable = _first(item, flags)
            if lo < hi and first & follow:  # `a+a`, `a?a`, `a{1,3}a`: the run splits in more than one way
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
            firsts = [_first(alt, flags) for alt in av[1]]
            if sum(nullable for _, nullable in firsts) > 1:  # `(|)`: two ways to match nothing
                return True
            seen: frozenset = frozenset()
            for chars, _ in firsts:  # `(ab|ac.)` unfactored: two alternatives can take the same character
                if chars & seen:
                    return True
                seen |= chars
            first, nullable = _first_item(op, av, flags)
            if nullable and first & follow:  # `(a|aa)` as sre reads it, `a(|a)`
                return True
            follow = first | follow if nullable else first
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        else:
            follow = _first_item(op, av, flags)[0]
    return False


def _flat(seq, out: list, depth: int = 0) -> list:
    """`seq`'s parts in order, groups opened and short fixed repeats written out (`(?:.*,){2}` as `.*,.*,`)."""
    c = _sre_c
    for op, av in seq:
        if op is c.SUBPATTERN and depth < 20:
            _flat(av[-1], out, depth + 1)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] == av[1] and 1 < av[1] <= 4 and depth < 20:
            for _ in range(av[1]):
                _flat(av[2], out, depth + 1)
        else:
            out.append((op, av))
    return out


def _backtracking_runs(seq, flags: int) -> int:
    """How many repeats of variable count outside repeats can give back characters for the rest to try again
    (`.*` in `.*z`, each `\\s*` in `\\s*\\s*x`): each multiplies the work on a value by its length."""
    c = _sre_c
    parts = _flat(seq, [])
    count = 0
    chain: frozenset = frozenset()  # what the repeats counted so far can take
    for i, (op, av) in enumerate(parts):
        if op is c.BRANCH:
            count += max((_backtracking_runs(alt, flags) for alt in av[1]), default=0)
            continue
        if op not in (c.MAX_REPEAT, c.MIN_REPEAT) or not av[0] < av[1] or av[1] <= 1:
            continue
        chars = _first(av[2], flags)[0]
        rest, rest_nullable = _first(parts[i + 1:], flags)
        if chars & rest or (not rest_nullable and chars & chain):
            count += 1
            chain |= chars
    return count


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


def compile_pattern(pattern: object) -> re.Pattern[str]:
    """`pattern` compiled, or `PatternError` saying why it cannot be used."""
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
    if _backtracking_runs(list(parsed), flags) > 1:
        raise PatternError(pattern, "its repeats can take time growing with the cube of a value's length or more"
                                    " (as `.*a.*b` does); start it with a literal, or use `[^a]*` for `.*a`")
    if _ambiguous(list(parsed), flags):
        raise PatternError(pattern, "nested repeats can take exponential time on some values (as `(a+)+` does);"
                                    " make each repetition start with something the previous one cannot end"
                                    " with")
    return compiled
