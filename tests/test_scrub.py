"""The secret scrubber (`hook/scrub.py`): each kind found in realistic text and not in look-alikes, user patterns
checked and bounded, values of every type handled without an exception."""

from __future__ import annotations

import json
import re

import pytest

from signoz_litellm_run.hook import scrub
from signoz_litellm_run.hook.scrub import PatternError, Scrubber

DEFAULT = Scrubber()
PII = Scrubber(pii=True)

# (text, the secret it holds, kind); each must come out without the secret and with the kind's marker.
POSITIVES = [
    ("my key is sk-live-ABCDEF0123456789ABCDEF and more", "sk-live-ABCDEF0123456789ABCDEF", "openai_key"),
    ("OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0hIj3kLm6nOp9qRs",
     "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0hIj3kLm6nOp9qRs", "openai_key"),
    ('{"key": "sk-ant-api03-Xy9_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7d-Ef0hIj3kLmAA"}',
     "sk-ant-api03-Xy9_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7d-Ef0hIj3kLmAA", "anthropic_key"),
    ("GOOGLE_API_KEY: AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
     "google_api_key"),
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "aws_access_key_id"),
    ("temporary ASIAY34FZKBOKMUTVV7A session", "ASIAY34FZKBOKMUTVV7A", "aws_access_key_id"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "aws_secret_access_key"),
    ('{"AWS_SECRET_ACCESS_KEY": "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"}',
     "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
     "aws_secret_access_key"),
    ("AZURE_OPENAI_API_KEY=0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef", "azure_key"),
    ("DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsu"
     "Fq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
     "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==", "azure_key"),
    ("Ocp-Apim-Subscription-Key: 5f8e7d6c5b4a39281706f5e4d3c2b1a0", "5f8e7d6c5b4a39281706f5e4d3c2b1a0", "azure_key"),
    ("https://acme.blob.core.windows.net/c/b.txt?sv=2022-11-02&sr=b&sig=Zm9vYmFy%2BYmF6cXV4%2F1234567890abcd%3D",
     "Zm9vYmFy%2BYmF6cXV4%2F1234567890abcd%3D", "azure_key"),
    ("git clone with ghp_16C7e42F292c6912E7710c838347Ae178B4a please", "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
     "github_token"),
    ("GH_TOKEN=github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW12",
     "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW12", "github_token"),
    ("slack xoxb-2048123456-4096123456789-AbCdEfGhIjKlMnOpQrStUvWx ok",
     "xoxb-2048123456-4096123456789-AbCdEfGhIjKlMnOpQrStUvWx", "slack_token"),
    ("HF hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh done", "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh", "huggingface_token"),
    ("curl -H 'Authorization: Bearer 7f3a9c1e5b2d8f4a6c0e' https://api", "7f3a9c1e5b2d8f4a6c0e", "bearer_token"),
    ('{"token_type": "bearer", "headers": {"authorization": "bearer Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA="}}',
     "Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA=", "bearer_token"),
    ("id token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFU"
     " expired", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFU",
     "jwt"),
    ("key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi\nZ1BjP5CE/Wm/Rr500P\n"
     "-----END RSA PRIVATE KEY-----\nthanks", "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi", "private_key"),
    ("postgres://admin:hunter2@db.internal:5432/app", "hunter2", "url_credentials"),
    ("redis://:s3cr3t-Pa55@cache:6379/0", "s3cr3t-Pa55", "url_credentials"),
    ("https://user?password=hunter2&next=/home", "hunter2", "credential"),
    ("DB_PASSWORD=correct-horse-battery", "correct-horse-battery", "credential"),
    ("database:\n  password: Tr0ub4dor&3\n", "Tr0ub4dor", "credential"),
    ('{"client_secret": "9f2c4e1a7b3d"}', "9f2c4e1a7b3d", "credential"),
    ('{"role": "user", "content": "config {\\"api_key\\": \\"abc123secret\\"}"}', "abc123secret", "credential"),
    ("X-Api-Key: live_4f9a8b7c6d5e", "live_4f9a8b7c6d5e", "credential"),
    ("ACCESS_TOKEN='ya29.a0AfH6SMBx'", "ya29.a0AfH6SMBx", "credential"),
    ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy", "credential"),
]

# Look-alikes that must pass unchanged with the default kinds.
NEGATIVES = [
    "Please skip the risk-adjusted return; ask-me-anything sessions are fun.",
    "task-1234567890abcdefghijkl is a ticket, not a key",
    "request id 123e4567-e89b-12d3-a456-426614174000 and sha256 "
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "git commit 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12 on 2024-01-15T10:30:00Z",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJ"
    "RU5ErkJggg==",
    '{"max_tokens": 100, "prompt_tokens": 12, "total_tokens": 40, "temperature": 0.2}',
    "The password must be at least 12 characters. Keep your API key secret.",
    "The bearer of this letter is trusted; bearer bonds and Bearer authentication",
    'api_key=os.environ["OPENAI_API_KEY"]',
    "def login(password: str, token: Optional[str] = None): ...",
    '{"api_key": null, "password": ""}',
    "monkey: banana, primary_key: id, sort_key: name",
    "Visit https://docs.example.com/path?q=1 or ssh git@github.com:org/repo.git",
    "ASIA-PACIFIC sales and AI assistants; AKIA is a name",
    "tokens: 1234 and the key: always validate input",
    "hf_hub_download and gh_pages and xox-style names",
]

# Personal data: found only with pii=True.
PII_POSITIVES = [
    ("contact bob.smith+news@example.co.uk today", "bob.smith+news@example.co.uk", "email"),
    ('{"email": "ana@acme.io"}', "ana@acme.io", "email"),
    ("call +1 (415) 555-2671 now", "+1 (415) 555-2671", "phone"),
    ("call +44 20 7946 0958 now", "+44 20 7946 0958", "phone"),
    ("call +14155552671 now", "+14155552671", "phone"),
    ("office (555) 123-4567, cell", "(555) 123-4567", "phone"),
    ("office 555-123-4567.", "555-123-4567", "phone"),
    ("office 555.123.4567;", "555.123.4567", "phone"),
    ("card 4111 1111 1111 1111 exp", "4111 1111 1111 1111", "card_number"),
    ("card 5500-0000-0000-0004 exp", "5500-0000-0000-0004", "card_number"),
    ("amex 378282246310005 exp", "378282246310005", "card_number"),
]
PII_NEGATIVES = [
    "icon@2x.png and @decorator and npm @types/node and user@localhost",
    "on 2024-01-15 at 10:30, version 1.2.3.4, ip 192.168.100.200",
    "order 1234567812345678 and timestamp 1733529600123 and 4111 1111 1111 1112",
    "ORD-555-123-4567 and SSN-like 123-45-6789 and 10 20 30 40",
    "ids 5551234567 and 4111111111111112",
    "https://admin:hunter2@db.example.com has no e-mail address",
]


@pytest.mark.parametrize("text,secret,kind", POSITIVES, ids=[k for _, _, k in POSITIVES])
def test_each_kind_is_replaced_by_its_marker(text: str, secret: str, kind: str) -> None:
    out, kinds = DEFAULT.scrub(text)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out
    assert kind in kinds
    assert set(kinds) <= set(scrub.DEFAULT_KINDS)


@pytest.mark.parametrize("text", NEGATIVES)
def test_look_alikes_are_left_alone(text: str) -> None:
    out, kinds = PII.scrub(text) if "@" not in text else DEFAULT.scrub(text)
    assert (out, kinds) == (text, ())
    assert out is text


@pytest.mark.parametrize("text,secret,kind", PII_POSITIVES, ids=[f"{k}-{i}" for i, (_, _, k) in
                                                                  enumerate(PII_POSITIVES)])
def test_personal_data_is_replaced_only_with_pii(text: str, secret: str, kind: str) -> None:
    assert DEFAULT.scrub(text) == (text, ())
    out, kinds = PII.scrub(text)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out
    assert kinds == (kind,)


@pytest.mark.parametrize("text", PII_NEGATIVES)
def test_personal_data_look_alikes_are_left_alone(text: str) -> None:
    out, kinds = PII.scrub(text)
    assert "[REDACTED:email]" not in out and "[REDACTED:phone]" not in out and "[REDACTED:card_number]" not in out


def test_the_issue_example_in_a_messages_attribute() -> None:
    messages = json.dumps([{"role": "user",
                            "content": "my key is sk-live-ABCDEF0123456789ABCDEF and email bob@example.com"}])
    out, kinds = PII.scrub(messages)
    assert kinds == ("openai_key", "email")
    assert json.loads(out)[0]["content"] == "my key is [REDACTED:openai_key] and email [REDACTED:email]"
    assert DEFAULT.scrub(messages)[1] == ("openai_key",)


def test_a_known_token_in_a_pair_keeps_its_own_kind_and_the_key_name() -> None:
    out, kinds = DEFAULT.scrub("api_key=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z&x=1")
    assert out == "api_key=[REDACTED:openai_key]&x=1"
    assert kinds == ("openai_key",)


def test_kinds_are_listed_once_in_a_stable_order() -> None:
    text = "b=AKIAIOSFODNN7EXAMPLE a=sk-live-ABCDEF0123456789ABCDEF c=AKIAIOSFODNN7EXAMPL2"
    out, kinds = DEFAULT.scrub(text)
    assert kinds == ("openai_key", "aws_access_key_id")
    assert out.count("[REDACTED:aws_access_key_id]") == 2


def test_clean_text_comes_back_as_the_same_object() -> None:
    text = "A long and entirely harmless prompt about the weather. " * 40
    assert DEFAULT.scrub(text)[0] is text
    assert PII.scrub(text)[0] is text


@pytest.mark.parametrize("number,valid", [
    ("4111111111111111", True), ("4111111111111112", False), ("5500000000000004", True),
    ("378282246310005", True), ("6011111111111117", True), ("6011111111111118", False),
])
def test_luhn(number: str, valid: bool) -> None:
    assert scrub._luhn(number) is valid
    out, kinds = PII.scrub(f"pay with {number} today")
    assert (kinds == ("card_number",)) is valid


def test_custom_patterns_replace_their_matches_as_custom() -> None:
    scrubber = Scrubber(extra_patterns=[r"ACME-\d{6}", r"(?i)project\s+bluebird"])
    out, kinds = scrubber.scrub("ticket ACME-123456 for Project  Bluebird, key sk-live-ABCDEF0123456789ABCDEF")
    assert out == "ticket [REDACTED:custom] for [REDACTED:custom], key [REDACTED:openai_key]"
    assert kinds == ("openai_key", "custom")
    assert scrubber.scrub("ACME")[1] == ()
    assert Scrubber(extra_patterns=["ab"]).scrub("ab") == ("[REDACTED:custom]", ("custom",))  # short values too


@pytest.mark.parametrize("pattern", ["(unclosed", "*x", "a{2,1}", "(?P<n>a)(?P<n>b)"])
def test_an_invalid_pattern_is_a_pattern_error_naming_it(pattern: str) -> None:
    with pytest.raises(PatternError) as info:
        Scrubber(extra_patterns=["fine", pattern])
    assert isinstance(info.value, ValueError)
    assert info.value.pattern == pattern
    assert repr(pattern) in str(info.value)


@pytest.mark.parametrize("pattern", ["", "x*", "(a|)", r"\b", "(?=a)"])
def test_a_pattern_that_matches_nothing_at_all_is_refused(pattern: str) -> None:
    with pytest.raises(PatternError, match="empty string"):
        Scrubber(extra_patterns=[pattern])


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a*)*b", r"(\w+\s?)+$", "(x+x+)+y", r"^(\d+[a-z]?)+$",
                                     "(?:(?:a+))+", "(.*a)+", "(a|a)+$", "(a|aa)+$", "(a?a)+$"])
def test_a_pattern_with_catastrophic_backtracking_is_refused(pattern: str) -> None:
    with pytest.raises(PatternError, match="exponential"):
        Scrubber(extra_patterns=[pattern])


@pytest.mark.parametrize("pattern", [r".*a.*b", r".*.*.*z", r"(.*)(.*)x", r"\s*\s*x", r"(?:.*,){2}z"])
def test_a_pattern_with_high_degree_backtracking_is_refused(pattern: str) -> None:
    with pytest.raises(PatternError, match="cube"):
        Scrubber(extra_patterns=[pattern])


@pytest.mark.parametrize("pattern", [r"(?:-\d+)+", r"(\d+,)+\d+", r"[A-Z]{3}-\d+", r"(?:[a-z]+\.)+com", r".+",
                                     r"(ab|cd)+", r"(?:https?://)+", r"(x?y)+", r"(foo|far)+", r"(\d{1,3}\.)+\d+",
                                     r".*secret.*", r"token.*secret.*", r"password\s*=\s*\S+", r"\d+-\d+",
                                     r"[^a]*a[^b]*b"])
def test_safe_repeats_are_accepted(pattern: str) -> None:
    Scrubber(extra_patterns=[pattern])


class _Steps:
    """A clock that advances one second each time it is read: each read is one window the patterns scanned."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return float(self.reads)


def test_a_pattern_matching_everything_covers_the_value_once_in_bounded_windows() -> None:
    scrubber = Scrubber(extra_patterns=[r"[\s\S]+"])
    value = "x" * (10 * scrub.WINDOW)
    out, kinds = scrubber.scrub(value)
    assert out == "[REDACTED:custom]"
    assert kinds == ("custom",)


def test_a_slow_pattern_stops_at_its_budget_and_the_rest_is_redacted() -> None:
    # `.*z` backtracks quadratically; the budget (here: one window, by a clock that jumps) ends the scan.
    scrubber = Scrubber(extra_patterns=[r".*z"])
    clock = _Steps()
    scrubber._clock = clock
    value = "a" * (50 * scrub.WINDOW)
    out, kinds = scrubber.scrub(value)
    assert clock.reads == 2  # the deadline, then one check after the first window
    assert kinds == ("unscanned",)
    assert out == "a" * scrub.WINDOW + "[REDACTED:unscanned]"


def test_a_fast_pattern_scans_a_long_value_to_its_end() -> None:
    scrubber = Scrubber(extra_patterns=[r"NEEDLE\d+"])
    value = "a" * (20 * scrub.WINDOW) + "NEEDLE42" + "b" * 10
    out, kinds = scrubber.scrub(value)
    assert kinds == ("custom",)
    assert out.endswith("[REDACTED:custom]" + "b" * 10)


def test_a_match_across_a_window_edge_is_found() -> None:
    scrubber = Scrubber(extra_patterns=[r"SECRET-[0-9]{20}"])
    value = "a" * (scrub.WINDOW - 10) + "SECRET-" + "1" * 20 + "a" * 100
    assert scrubber.scrub(value)[1] == ("custom",)


def test_builtin_kinds_scan_a_huge_value_to_its_end() -> None:
    value = "lorem ipsum " * 200_000 + "sk-live-ABCDEF0123456789ABCDEF"
    out, kinds = DEFAULT.scrub(value)
    assert kinds == ("openai_key",)
    assert out.endswith("[REDACTED:openai_key]")


def test_scrub_value_on_lists_tuples_bytes_and_other_types() -> None:
    secret = "sk-live-ABCDEF0123456789ABCDEF"
    values = ["plain", f"key {secret}", 3, None]
    out, kinds = DEFAULT.scrub_value(values)
    assert out == ["plain", "key [REDACTED:openai_key]", 3, None]
    assert kinds == ("openai_key",)
    assert values[1] == f"key {secret}"  # the caller's list is not changed
    clean = ["a", "b"]
    assert DEFAULT.scrub_value(clean)[0] is clean
    assert DEFAULT.scrub_value(("x", f"password={secret}")) == (("x", "password=[REDACTED:openai_key]"),
                                                                ("openai_key",))
    assert DEFAULT.scrub_value(f"t {secret}".encode()) == (b"t [REDACTED:openai_key]", ("openai_key",))
    for other in (1, 2.5, True, None, {"k": secret}, object()):
        assert DEFAULT.scrub_value(other) == (other, ())


@pytest.mark.parametrize("value", [b"\xff\xfe password=hunter2", "\ud800 lone surrogate password=hunter2",
                                   "\u0130" * 50 + " password=hunter2", "", "x", "\x00" * 1000])
def test_odd_strings_never_raise(value) -> None:
    out, kinds = PII.scrub_value(value)
    if "hunter2" in str(value):
        assert kinds == ("credential",)
        assert (b"hunter2" if isinstance(out, bytes) else "hunter2") not in out


def test_an_internal_failure_redacts_the_value_instead_of_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str, pii: bool) -> list:
        raise RuntimeError("bug")

    monkeypatch.setattr(scrub, "_builtin_spans", broken)
    assert DEFAULT.scrub("anything at all") == ("[REDACTED:unscanned]", ("unscanned",))


def test_kind_lists() -> None:
    assert len(set(scrub.DEFAULT_KINDS)) == len(scrub.DEFAULT_KINDS) == 14
    assert scrub.PII_KINDS == ("email", "phone", "card_number")
    for text, _, kind in POSITIVES:
        assert kind in scrub.DEFAULT_KINDS
    assert re.fullmatch(r"\[REDACTED:[a-z_]+\]", "[REDACTED:openai_key]")


def test_secrets_inside_a_json_messages_attribute_leave_valid_json() -> None:
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----"
    content = (f"deploy with {pem}\nand DATABASE_URL=postgres://app:Zx9-secret@db:5432/app, header "
               "'Authorization: Bearer abcdef0123456789abcdef', AKIAIOSFODNN7EXAMPLE")
    messages = json.dumps([{"role": "user", "content": content}])
    out, kinds = DEFAULT.scrub(messages)
    assert kinds == ("private_key", "aws_access_key_id", "bearer_token", "url_credentials")
    text = json.loads(out)[0]["content"]
    for secret in ("b3BlbnNzaC1rZXktdjEAAAAABG5vbmU=", "Zx9-secret", "abcdef0123456789abcdef", "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in text
    assert text.startswith("deploy with [REDACTED:private_key]\nand DATABASE_URL=postgres://app:")
