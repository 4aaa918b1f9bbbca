"""`signoz-litellm dashboards` end to end: the real CLI in a child process against a test double of SigNoz's
API on loopback (tests/support/signoz_double.py, written from SigNoz's source; see its docstring)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from signoz_litellm_run.dashboards import definitions, v1form
from signoz_litellm_run.dashboards.client import Client
from signoz_litellm_run.dashboards.definitions import DASHBOARDS, ID_KEY, REV_KEY
from signoz_litellm_run.dashboards.revision import _strip, revision
from tests.support.launch import clean_env, launcher
from tests.support.signoz_double import ADMIN, EDITOR, VIEWER, SigNozDouble
from tests.support.signoz_v1 import convert_v1_to_v2
from tests.support.signoz_validation import validate_spec

KEY = "sn-api-key-0123456789abcdef"
EDITOR_KEY = "sn-editor-key-0123456789ab"
VIEWER_KEY = "sn-viewer-key-0123456789ab"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def signoz() -> Any:
    with SigNozDouble({KEY: ("admin@example.com", ADMIN), EDITOR_KEY: ("ed@example.com", EDITOR),
                       VIEWER_KEY: ("viewer@example.com", VIEWER)}) as api:
        yield api


def _cli(*args: str, url: str | None, key: str | None = KEY, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    extra = {}
    if url is not None:
        extra["SIGNOZ_URL"] = url
    if key is not None:
        extra["SIGNOZ_API_KEY"] = key
    return launcher(["dashboards", *args], env=clean_env(extra), timeout=timeout)


def _writes(api: SigNozDouble) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in api.requests if m != "GET"]


def _by_our_id(api: SigNozDouble) -> dict[str, dict[str, Any]]:
    return {next(t["value"] for t in d["tags"] if t["key"] == ID_KEY): d for d in api.ours()}


def _no_secret(result: subprocess.CompletedProcess[str], *keys: str) -> None:
    for key in keys:
        assert key not in result.stdout and key not in result.stderr


# ----------------------------------------------------------------------------------------------- list, export


def test_list_names_every_dashboard_and_panel() -> None:
    result = launcher(["dashboards", "list"], env=clean_env())
    assert result.returncode == 0, result.stderr
    for dashboard in DASHBOARDS:
        assert f"{dashboard.id}  {dashboard.title}" in result.stdout
        for panel in dashboard.panels:
            assert f"- {panel.title}: " in result.stdout


def test_export_writes_what_the_api_accepts(tmp_path: Path, signoz: SigNozDouble) -> None:
    result = launcher(["dashboards", "export", "--dir", str(tmp_path / "out")], env=clean_env())
    assert result.returncode == 0, result.stderr
    files = sorted((tmp_path / "out").glob("*.json"))
    assert [f.name for f in files] == sorted(f"{d.id}.json" for d in DASHBOARDS)
    client = Client(signoz.url, KEY)
    for file in files:
        body = json.loads(file.read_text())
        assert body["schemaVersion"] == "v6"
        assert client.request("POST", "/api/v2/dashboards", body).status == 201  # as a user's curl would
    assert len(signoz.dashboards) == 3


def test_export_one_by_title_and_an_unknown_name(tmp_path: Path) -> None:
    result = launcher(["dashboards", "export", "LiteLLM proxy", "--dir", str(tmp_path)], env=clean_env())
    assert result.returncode == 0, result.stderr
    assert [f.name for f in tmp_path.iterdir()] == ["litellm-proxy.json"]
    result = launcher(["dashboards", "export", "grafana", "--dir", str(tmp_path)], env=clean_env())
    assert result.returncode == 2
    assert "There is no dashboard 'grafana'" in result.stderr and "Traceback" not in result.stderr


# ----------------------------------------------------------------------------------------------- install


def test_install_twice_leaves_one_current_copy_of_each(signoz: SigNozDouble) -> None:
    first = _cli("install", url=signoz.url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created") == 3
    ours = _by_our_id(signoz)
    assert set(ours) == {d.id for d in DASHBOARDS}
    for dashboard in DASHBOARDS:
        stored = ours[dashboard.id]
        assert stored["spec"]["display"]["name"] == dashboard.title
        assert {"key": REV_KEY, "value": dashboard.revision()} in stored["tags"]
        assert f"/dashboard/{stored['id']}" in first.stdout
    ids = {k: v["id"] for k, v in ours.items()}

    second = _cli("install", url=signoz.url)
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("unchanged") == 3
    assert len(signoz.dashboards) == 3 and {k: v["id"] for k, v in _by_our_id(signoz).items()} == ids
    assert [w for w in _writes(signoz)].count(("POST", "/api/v2/dashboards")) == 3  # the second run wrote nothing
    # The key went in SigNoz's header on every request, and nowhere in the output.
    assert all(headers.get("signoz-api-key") == KEY for _, _, headers in signoz.requests)
    _no_secret(first, KEY)
    _no_secret(second, KEY)


def test_dry_run_changes_nothing(signoz: SigNozDouble) -> None:
    result = _cli("install", "--dry-run", url=signoz.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("would create") == 3
    assert _writes(signoz) == [] and signoz.dashboards == {}


def _older_version(api: SigNozDouble, our_id: str) -> dict[str, Any]:
    """Make the stored dashboard look like an older signoz-litellm's: other content, and its rev tag."""
    stored = _by_our_id(api)[our_id]

    def change(spec: dict[str, Any]) -> None:
        spec["display"]["description"] = "an older release of signoz-litellm wrote this"

    api.edit(stored["id"], change)
    for tag in stored["tags"]:
        if tag["key"] == REV_KEY:
            tag["value"] = revision(stored["spec"])
    return stored


def test_an_older_version_of_ours_is_updated_in_place_keeping_the_users_tags(signoz: SigNozDouble) -> None:
    assert _cli("install", url=signoz.url).returncode == 0
    stored = _older_version(signoz, "litellm-overview")
    stored["tags"].append({"key": "team", "value": "ml-platform"})
    result = _cli("install", url=signoz.url)
    assert result.returncode == 0, result.stderr
    assert "updated      LiteLLM overview (an older version of ours)" in result.stdout
    after = _by_our_id(signoz)["litellm-overview"]
    assert after["id"] == stored["id"] and len(signoz.dashboards) == 3
    assert revision(after["spec"]) == definitions.BY_ID["litellm-overview"].revision()
    assert {"key": "team", "value": "ml-platform"} in after["tags"]


def test_a_dashboard_edited_in_signoz_is_kept_until_force(signoz: SigNozDouble) -> None:
    assert _cli("install", url=signoz.url).returncode == 0
    stored = _by_our_id(signoz)["litellm-proxy"]
    signoz.edit(stored["id"], lambda spec: spec["panels"].pop("status-codes") and spec["layouts"][0]["spec"]
                ["items"].pop(1))
    edited = json.dumps(stored["spec"], sort_keys=True)

    kept = _cli("install", url=signoz.url)
    assert kept.returncode == 0, kept.stderr
    assert "skipped      LiteLLM proxy (changed in SigNoz since signoz-litellm installed it; --force" in kept.stdout
    assert json.dumps(_by_our_id(signoz)["litellm-proxy"]["spec"], sort_keys=True) == edited

    forced = _cli("install", "--force", url=signoz.url)
    assert forced.returncode == 0, forced.stderr
    assert "updated      LiteLLM proxy (edited in SigNoz, overwritten (--force))" in forced.stdout
    assert "status-codes" in _by_our_id(signoz)["litellm-proxy"]["spec"]["panels"]


def test_a_locked_dashboard_is_kept_until_force_then_locked_again(signoz: SigNozDouble) -> None:
    assert _cli("install", url=signoz.url).returncode == 0
    stored = _older_version(signoz, "batch-jobs")
    signoz.set_locked(stored["id"], True)

    kept = _cli("install", url=signoz.url)
    assert kept.returncode == 0, kept.stderr
    assert "skipped      LiteLLM batch jobs (locked in SigNoz" in kept.stdout
    assert "1 left as they are; run again with --force" in kept.stdout

    forced = _cli("install", "--force", url=signoz.url)
    assert forced.returncode == 0, forced.stderr
    after = _by_our_id(signoz)["batch-jobs"]
    assert after["locked"] is True
    assert revision(after["spec"]) == definitions.BY_ID["batch-jobs"].revision()
    lock_calls = [(m, p) for m, p in _writes(signoz) if p.endswith("/lock")]
    assert lock_calls == [("DELETE", f"/api/v2/dashboards/{stored['id']}/lock"),
                          ("PUT", f"/api/v2/dashboards/{stored['id']}/lock")]


def test_install_some_by_name_with_flags(signoz: SigNozDouble) -> None:
    result = launcher(["dashboards", "install", "litellm-overview", "--url", signoz.url + "/", "--api-key",
                       EDITOR_KEY], env=clean_env())
    assert result.returncode == 0, result.stderr
    assert list(_by_our_id(signoz)) == ["litellm-overview"]
    _no_secret(result, EDITOR_KEY)


# ----------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("key", ["wrong-key-000000000000", VIEWER_KEY])
def test_a_refused_key_changes_nothing(signoz: SigNozDouble, key: str) -> None:
    result = _cli("install", url=signoz.url, key=key)
    assert result.returncode == 1
    status = "401" if key != VIEWER_KEY else "403"
    assert f"signoz-litellm: error: The API key was refused ({status}" in result.stderr
    assert "hint: " in result.stderr and "Traceback" not in result.stderr
    assert signoz.dashboards == {}
    _no_secret(result, key)


@pytest.mark.parametrize("url", ["https://ingest.us.signoz.cloud:443", "http://localhost:4317", "localhost:4318"])
def test_an_ingestion_address_is_named_as_such(url: str) -> None:
    result = _cli("install", url=url)
    assert result.returncode == 2
    assert "is an OTLP ingestion address, not SigNoz's UI/API address" in result.stderr


def test_missing_url_or_key() -> None:
    result = _cli("install", url=None)
    assert result.returncode == 2 and "No SigNoz URL is set" in result.stderr
    result = _cli("install", url="http://127.0.0.1:9", key=None)
    assert result.returncode == 2 and "No SigNoz API key is set" in result.stderr


def test_unreachable_server() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _cli("install", url=f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"Cannot reach SigNoz at http://127.0.0.1:{port}: connection refused." in result.stderr


def test_a_server_that_never_answers_ends_the_command_at_the_timeout() -> None:
    with SigNozDouble({KEY: ("a@x", ADMIN)}, mode="hang") as api:
        result = _cli("install", url=api.url, timeout=40)  # 40: a hang guard, the command's own bound is 8 s
    assert result.returncode == 1
    assert "did not answer GET /api/v2/dashboards within 8 s" in result.stderr


@pytest.mark.parametrize(("mode", "says"), [
    ("html", "answered GET /api/v2/dashboards with an HTML page (HTTP 200), not SigNoz's API"),
    ("odd-json", "with JSON that is not SigNoz's API envelope"),
    ("redirect", "redirects GET /api/v2/dashboards to https://signoz.example.com/api/v2/dashboards?"),
])
def test_a_server_that_is_not_the_v2_api(mode: str, says: str) -> None:
    with SigNozDouble({KEY: ("a@x", ADMIN)}, mode=mode) as api:
        result = _cli("install", url=api.url)
        assert result.returncode == 1, result.stdout
        assert says in result.stderr, result.stderr
        assert _writes(api) == []


def test_a_failure_midway_says_what_was_installed(signoz: SigNozDouble) -> None:
    signoz.fail_writes_after = 1
    result = _cli("install", url=signoz.url)
    assert result.returncode == 1
    assert ("LiteLLM proxy was not created: SigNoz refused POST /api/v2/dashboards (HTTP 500): database is locked. "
            "Installed before the failure: LiteLLM overview (created). Not installed: LiteLLM batch jobs."
            ) in result.stderr
    assert list(_by_our_id(signoz)) == ["litellm-overview"]
    signoz.fail_writes_after = None
    again = _cli("install", url=signoz.url)
    assert again.returncode == 0 and again.stdout.count("created") == 2 and len(signoz.dashboards) == 3


# ----------------------------------------------------------------------------------------------- the double


def test_the_double_rejects_what_signoz_rejects(signoz: SigNozDouble) -> None:
    """So its accepting our dashboards above means something: unknown fields at each level, a reserved tag
    key, a bad name, a panel without its one query, the v1 API."""
    client = Client(signoz.url, KEY)
    good = DASHBOARDS[0].body()

    def refused(change: Any) -> str:
        body = json.loads(json.dumps(good))
        change(body)
        with pytest.raises(Exception) as caught:
            client.request("POST", "/api/v2/dashboards", body)
        assert getattr(caught.value, "status", None) == 400, caught.value
        return str(caught.value)

    assert 'unknown field "title"' in refused(lambda b: b.update(title="x"))
    assert 'unknown field "datasources"' in refused(lambda b: b["spec"].update(datasources={}))
    panel = next(iter(good["spec"]["panels"]))
    assert 'unknown field "colour"' in refused(
        lambda b: b["spec"]["panels"][panel]["spec"]["plugin"]["spec"].update(colour="red"))
    assert 'unknown field "where"' in refused(
        lambda b: b["spec"]["panels"][panel]["spec"]["queries"][0]["spec"]["plugin"]["spec"].update(where="x"))
    assert "tag key 'source' is reserved" in refused(lambda b: b["tags"].append({"key": "source", "value": "x"}))
    assert "is invalid" in refused(lambda b: b.update(name="Not A Label"))
    assert 'schemaVersion must be "v6"' in refused(lambda b: b.update(schemaVersion="v5"))
    assert "panel must have one query" in refused(
        lambda b: b["spec"]["panels"][panel]["spec"].update(queries=[]))
    assert signoz.dashboards == {}
    with pytest.raises(Exception) as caught:
        client.request("POST", "/api/v1/dashboards", {"title": "v1"})
    assert getattr(caught.value, "status", None) == 501 and "v1 dashboard API is deprecated" in str(caught.value)


# ----------------------------------------------------------------------------------------------- alerts


def _rules_by_id(api: SigNozDouble) -> dict[str, dict[str, Any]]:
    return {r["labels"]["signoz_litellm_id"]: r for r in api.rules.values()
            if r.get("labels", {}).get("managed_by") == "signoz-litellm"}


def test_alerts_install_is_idempotent_and_follows_the_thresholds(signoz: SigNozDouble) -> None:
    result = launcher(["alerts", "install", "--dry-run"], env=clean_env({"SIGNOZ_URL": signoz.url,
                                                                        "SIGNOZ_API_KEY": KEY}))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("would create") == 3 and signoz.rules == {}

    env = clean_env({"SIGNOZ_URL": signoz.url, "SIGNOZ_API_KEY": KEY})
    first = launcher(["alerts", "install", "--error-rate", "2.5", "--environment", "production",
                      "--channel", "slack-llm"], env=env)
    assert first.returncode == 0, first.stderr
    rules = _rules_by_id(signoz)
    assert set(rules) == {"llm-error-rate", "llm-p95-latency", "llm-hourly-cost"}
    error_rate = rules["llm-error-rate"]
    assert error_rate["condition"]["thresholds"]["spec"][0]["target"] == 2.5
    assert error_rate["condition"]["thresholds"]["spec"][0]["channels"] == ["slack-llm"]
    assert all("deployment.environment = 'production'" in q["spec"]["filter"]["expression"]
               for q in error_rate["condition"]["compositeQuery"]["queries"] if q["type"] == "builder_query")
    assert rules["llm-hourly-cost"]["evaluation"]["spec"]["evalWindow"] == "1h"
    _no_secret(first, KEY)

    again = launcher(["alerts", "install", "--error-rate", "2.5", "--environment", "production",
                      "--channel", "slack-llm"], env=env)
    assert again.returncode == 0 and again.stdout.count("unchanged") == 3, again.stdout + again.stderr
    signoz.rules[error_rate["id"]]["disabled"] = True  # a user switched it off in SigNoz
    changed = launcher(["alerts", "install", "--error-rate", "10"], env=env)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.count("updated") == 3 and "No notification channel given" in changed.stdout
    after = _rules_by_id(signoz)
    assert len(signoz.rules) == 3 and after["llm-error-rate"]["id"] == error_rate["id"]
    assert after["llm-error-rate"]["condition"]["thresholds"]["spec"][0]["target"] == 10
    assert after["llm-error-rate"]["disabled"] is True


def test_an_alert_edited_in_signoz_is_kept_until_force(signoz: SigNozDouble) -> None:
    env = clean_env({"SIGNOZ_URL": signoz.url, "SIGNOZ_API_KEY": KEY})
    assert launcher(["alerts", "install"], env=env).returncode == 0
    cost = _rules_by_id(signoz)["llm-hourly-cost"]
    cost["condition"]["thresholds"]["spec"][0]["target"] = 50.0
    kept = launcher(["alerts", "install"], env=env)
    assert kept.returncode == 0 and "skipped      LiteLLM: LLM cost above 10 USD per hour (changed in SigNoz" in kept.stdout
    assert _rules_by_id(signoz)["llm-hourly-cost"]["condition"]["thresholds"]["spec"][0]["target"] == 50.0
    forced = launcher(["alerts", "install", "--force"], env=env)
    assert forced.returncode == 0
    assert _rules_by_id(signoz)["llm-hourly-cost"]["condition"]["thresholds"]["spec"][0]["target"] == 10.0


def test_alerts_bad_input(signoz: SigNozDouble) -> None:
    result = launcher(["alerts", "install", "--error-rate", "150"], env=clean_env({"SIGNOZ_URL": signoz.url,
                                                                                  "SIGNOZ_API_KEY": KEY}))
    assert result.returncode == 2 and "--error-rate is a percentage" in result.stderr
    result = launcher(["alerts", "install"], env=clean_env({"SIGNOZ_URL": signoz.url, "SIGNOZ_API_KEY": VIEWER_KEY}))
    assert result.returncode == 1 and "The API key was refused (403" in result.stderr
    assert signoz.rules == {}


# ----------------------------------------------------------------------------------------------- doctor


def _doctor(*extra: str, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    result = launcher(["doctor", "--fast", "--json", "--local", *extra], env=clean_env(env))
    return result.returncode, {c["name"]: c for c in json.loads(result.stdout)["checks"] if c["category"] == "signoz-api"}


def test_doctor_with_an_api_key_checks_the_key_the_version_and_our_dashboards(signoz: SigNozDouble) -> None:
    status, checks = _doctor(env={})
    assert status == 0 and checks == {}  # without a key, no API checks
    status, checks = _doctor("--api-key", KEY, "--url", signoz.url, env={})
    assert status == 0, checks
    assert checks["signoz-version"]["status"] == "pass" and checks["signoz-version"]["detail"] == "SigNoz v0.138.0"
    assert checks["api-key"]["status"] == "pass"
    assert checks["dashboards"]["status"] == "warn"
    assert "LiteLLM overview: not installed" in checks["dashboards"]["detail"]
    assert _cli("install", "litellm-overview", url=signoz.url).returncode == 0
    status, checks = _doctor(env={"SIGNOZ_URL": signoz.url, "SIGNOZ_API_KEY": KEY})
    assert "LiteLLM overview: current; LiteLLM proxy: not installed" in checks["dashboards"]["detail"]
    status, checks = _doctor("--api-key", "wrong-key-000000000000", "--url", signoz.url, env={})
    assert status == 1 and checks["api-key"]["status"] == "fail"
    assert checks["api-key"]["detail"].startswith("The API key was refused (401")
    assert checks["dashboards"]["status"] == "skip"


def test_doctor_names_a_server_too_old_for_install() -> None:
    with SigNozDouble({KEY: ("a@x", ADMIN)}, mode="v1", version="v0.90.0") as api:
        status, checks = _doctor("--api-key", KEY, "--url", api.url, env={})
    assert checks["signoz-version"]["status"] == "warn"
    assert "dashboards install needs v0.95 or later" in checks["signoz-version"]["detail"]
    assert checks["dashboards"]["status"] == "fail" and "predates v0.95" in checks["dashboards"]["detail"]
    assert checks["api-key"]["status"] == "skip"


def test_doctor_on_a_v1_server_says_what_install_would_do() -> None:
    with SigNozDouble({KEY: ("a@x", ADMIN)}, mode="no-list") as api:
        assert _cli("install", "litellm-proxy", url=api.url).returncode == 0
        status, checks = _doctor("--api-key", KEY, "--url", api.url, env={})
    assert checks["signoz-version"]["status"] == "pass" and checks["api-key"]["status"] == "pass"
    assert "LiteLLM overview: not installed; LiteLLM proxy: current" in checks["dashboards"]["detail"]


def test_copies_imported_by_hand_are_reported_and_only_the_newest_kept_current(signoz: SigNozDouble) -> None:
    client = Client(signoz.url, KEY)
    body = definitions.BY_ID["litellm-proxy"].body()
    first = client.request("POST", "/api/v2/dashboards", body).data
    second = client.request("POST", "/api/v2/dashboards", body).data  # SigNoz keeps no name unique
    signoz.dashboards[first["id"]]["updatedAt"] = "2000-01-01T00:00:00Z"
    result = _cli("install", "litellm-proxy", url=signoz.url)
    assert result.returncode == 0, result.stderr
    assert f"unchanged    LiteLLM proxy (already this version)  {signoz.url}/dashboard/{second['id']}" in result.stdout
    assert f"note: 1 more copy carries the same id tag ({first['id']})" in result.stdout
    assert len(signoz.dashboards) == 2


def test_a_self_hosted_https_signoz_with_its_own_ca(self_signed_cert: tuple[str, str]) -> None:
    with SigNozDouble({KEY: ("a@x", ADMIN)}, tls=self_signed_cert) as api:
        untrusted = _cli("install", "--dry-run", url=api.url)
        assert untrusted.returncode == 1
        assert f"TLS with {api.url} failed" in untrusted.stderr and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        trusted = launcher(["dashboards", "install", "--dry-run"], env=clean_env(
            {"SIGNOZ_URL": api.url, "SIGNOZ_API_KEY": KEY, "SSL_CERT_FILE": self_signed_cert[0]}))
        assert trusted.returncode == 0, trusted.stderr
        assert trusted.stdout.count("would create") == 3


def test_alerts_failure_midway_says_what_was_installed(signoz: SigNozDouble) -> None:
    signoz.fail_writes_after = 1
    result = launcher(["alerts", "install"], env=clean_env({"SIGNOZ_URL": signoz.url, "SIGNOZ_API_KEY": KEY}))
    assert result.returncode == 1
    assert ("LiteLLM: p95 LLM latency above 10 s was not installed: SigNoz refused POST /api/v2/rules (HTTP 500): "
            "database is locked. Installed before the failure: LiteLLM: LLM error rate above 5%.") in result.stderr
    assert list(_rules_by_id(signoz)) == ["llm-error-rate"]


# ----------------------------------------------------------------------------------------------- the v1 API


@pytest.fixture(params=["v1", "no-list"])
def old_signoz(request: pytest.FixtureRequest) -> Any:
    """SigNoz v0.125.1 (v1 dashboards API only) and v0.128.0 (v1, plus a v2 create without a v2 list)."""
    with SigNozDouble({KEY: ("admin@example.com", ADMIN), EDITOR_KEY: ("ed@example.com", EDITOR)},
                      mode=request.param) as api:
        yield api


def _v1_by_our_id(api: SigNozDouble) -> dict[str, dict[str, Any]]:
    return {next(t.split(":", 1)[1] for t in d["data"]["tags"] if t.startswith(ID_KEY + ":")): d for d in api.v1_ours()}


def test_v1_install_twice_leaves_one_current_copy_of_each(old_signoz: SigNozDouble) -> None:
    first = _cli("install", url=old_signoz.url)
    assert first.returncode == 0, first.stderr
    assert f"(SigNoz {old_signoz.version}, v1 dashboards API)" in first.stdout
    assert first.stdout.count("created") == 3 and old_signoz.dashboards == {}
    ours = _v1_by_our_id(old_signoz)
    assert set(ours) == {d.id for d in DASHBOARDS}
    for dashboard in DASHBOARDS:
        data = ours[dashboard.id]["data"]
        assert data["title"] == dashboard.title and data["version"] == "v5"
        assert data["tags"][:3] == ["managed-by:signoz-litellm", f"signoz-litellm-id:{dashboard.id}",
                                    f"signoz-litellm-rev:{dashboard.v1_revision()}"]
        assert f"/dashboard/{ours[dashboard.id]['id']}" in first.stdout
    ids = {k: v["id"] for k, v in ours.items()}

    second = _cli("install", url=old_signoz.url)
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("unchanged") == 3
    assert {k: v["id"] for k, v in _v1_by_our_id(old_signoz).items()} == ids and len(old_signoz.v1_dashboards) == 3
    assert _writes(old_signoz).count(("POST", "/api/v1/dashboards")) == 3 and len(_writes(old_signoz)) == 3
    assert all(headers.get("signoz-api-key") == KEY for _, _, headers in old_signoz.requests)
    _no_secret(first, KEY)
    _no_secret(second, KEY)


def test_v1_dry_run_changes_nothing(old_signoz: SigNozDouble) -> None:
    result = _cli("install", "--dry-run", url=old_signoz.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("would create") == 3
    assert _writes(old_signoz) == [] and old_signoz.v1_dashboards == {}


def _v1_older_version(api: SigNozDouble, our_id: str) -> dict[str, Any]:
    stored = _v1_by_our_id(api)[our_id]

    def change(data: dict[str, Any]) -> None:
        data["description"] = "an older release of signoz-litellm wrote this"
        data["tags"] = [t if not t.startswith(REV_KEY + ":") else f"{REV_KEY}:{v1form.revision(data)}"
                        for t in data["tags"]]

    api.v1_edit(stored["id"], change)
    return stored


def test_v1_an_older_version_is_updated_in_place_keeping_the_users_tags(old_signoz: SigNozDouble) -> None:
    assert _cli("install", url=old_signoz.url).returncode == 0
    stored = _v1_older_version(old_signoz, "litellm-overview")
    stored["data"]["tags"].append("team:ml-platform")
    result = _cli("install", url=old_signoz.url)
    assert result.returncode == 0, result.stderr
    assert "updated      LiteLLM overview (an older version of ours)" in result.stdout
    after = _v1_by_our_id(old_signoz)["litellm-overview"]
    assert after["id"] == stored["id"] and len(old_signoz.v1_dashboards) == 3
    assert v1form.revision(after["data"]) == definitions.BY_ID["litellm-overview"].v1_revision()
    assert "team:ml-platform" in after["data"]["tags"] and after["data"]["tags"].count("integration:litellm") == 1


def test_v1_what_the_ui_writes_back_when_viewing_is_not_an_edit(old_signoz: SigNozDouble) -> None:
    """Dragging nothing and picking a variable value write layout and selection state into v1 data."""
    assert _cli("install", url=old_signoz.url).returncode == 0
    stored = _v1_by_our_id(old_signoz)["litellm-proxy"]

    def view(data: dict[str, Any]) -> None:
        for item in data["layout"]:
            item.update(moved=True, isResizable=True)
        for variable in data["variables"].values():
            variable.update(selectedValue=["checkout"], allSelected=False, key=variable["id"])

    old_signoz.v1_edit(stored["id"], view)
    result = _cli("install", "litellm-proxy", url=old_signoz.url)
    assert result.returncode == 0 and "unchanged    LiteLLM proxy (already this version)" in result.stdout


def test_v1_an_edited_dashboard_is_kept_until_force(old_signoz: SigNozDouble) -> None:
    assert _cli("install", url=old_signoz.url).returncode == 0
    stored = _v1_by_our_id(old_signoz)["litellm-proxy"]
    old_signoz.v1_edit(stored["id"], lambda data: data["widgets"].pop())  # a user deleted a panel
    edited = json.dumps(stored["data"], sort_keys=True)

    kept = _cli("install", url=old_signoz.url)
    assert kept.returncode == 0, kept.stderr
    assert "skipped      LiteLLM proxy (changed in SigNoz since signoz-litellm installed it; --force" in kept.stdout
    assert json.dumps(_v1_by_our_id(old_signoz)["litellm-proxy"]["data"], sort_keys=True) == edited

    forced = _cli("install", "--force", url=old_signoz.url)
    assert forced.returncode == 0, forced.stderr
    assert "updated      LiteLLM proxy (edited in SigNoz, overwritten (--force))" in forced.stdout
    after = _v1_by_our_id(old_signoz)["litellm-proxy"]
    assert after["id"] == stored["id"]
    assert v1form.revision(after["data"]) == definitions.BY_ID["litellm-proxy"].v1_revision()


def test_v1_a_locked_dashboard_is_kept_until_force_then_locked_again(old_signoz: SigNozDouble) -> None:
    assert _cli("install", url=old_signoz.url).returncode == 0
    stored = _v1_older_version(old_signoz, "batch-jobs")
    old_signoz.set_locked(stored["id"], True)

    kept = _cli("install", url=old_signoz.url)
    assert kept.returncode == 0, kept.stderr
    assert "skipped      LiteLLM batch jobs (locked in SigNoz" in kept.stdout

    forced = _cli("install", "--force", url=old_signoz.url)
    assert forced.returncode == 0, forced.stderr
    after = _v1_by_our_id(old_signoz)["batch-jobs"]
    assert after["locked"] is True
    assert v1form.revision(after["data"]) == definitions.BY_ID["batch-jobs"].v1_revision()
    path = f"/api/v1/dashboards/{stored['id']}"
    assert [w for w in _writes(old_signoz) if w[1].startswith(path)] == [
        ("PUT", path + "/lock"), ("PUT", path), ("PUT", path + "/lock")]


def test_v1_a_refused_key_and_a_failure_midway(old_signoz: SigNozDouble) -> None:
    result = _cli("install", url=old_signoz.url, key="wrong-key-000000000000")
    assert result.returncode == 1 and "The API key was refused (401" in result.stderr
    old_signoz.fail_writes_after = 1
    result = _cli("install", url=old_signoz.url)
    assert result.returncode == 1
    assert ("LiteLLM proxy was not created: SigNoz refused POST /api/v1/dashboards (HTTP 500): database is locked. "
            "Installed before the failure: LiteLLM overview (created). Not installed: LiteLLM batch jobs."
            ) in result.stderr
    assert list(_v1_by_our_id(old_signoz)) == ["litellm-overview"]


def test_a_signoz_before_v0_95_is_stopped_before_writing() -> None:
    with SigNozDouble({KEY: ("a@x", ADMIN)}, mode="v1", version="v0.90.0") as api:
        result = _cli("install", url=api.url)
        assert result.returncode == 1, result.stdout
        assert "SigNoz v0.90.0 at " in result.stderr and "predates v0.95" in result.stderr
        assert "Traceback" not in result.stderr and _writes(api) == []


def test_export_v1_is_what_a_v1_server_takes_and_install_recognises(tmp_path: Path) -> None:
    result = launcher(["dashboards", "export", "--api", "v1", "--dir", str(tmp_path)], env=clean_env())
    assert result.returncode == 0, result.stderr
    with SigNozDouble({KEY: ("a@x", ADMIN)}, mode="v1") as api:
        client = Client(api.url, KEY)
        for file in sorted(tmp_path.glob("*.json")):
            body = json.loads(file.read_text())
            assert body["version"] == "v5" and isinstance(body["tags"], list)
            assert client.request("POST", "/api/v1/dashboards", body).status == 201  # as a user's curl would
        again = _cli("install", url=api.url)
        assert again.returncode == 0 and again.stdout.count("unchanged") == 3, again.stdout
    bad = launcher(["dashboards", "export", "--api", "v3", "--dir", str(tmp_path)], env=clean_env())
    assert bad.returncode == 2 and "--api must be v2 or v1" in bad.stderr


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.id)
def test_the_v1_form_is_the_v2_form_as_signoz_converts_it(dashboard: definitions.Dashboard) -> None:
    """One source of truth: SigNoz's own v1->v2 conversion (run at the upgrade to v0.135) of our v1 JSON is a
    spec the v2 API accepts and equal to our v2 spec, panel for panel, query for query. Left out: what v1
    cannot say (variable display names, the default time range) and what the converter adds (query names,
    open sections, empty links, the signal of list columns)."""
    converted = convert_v1_to_v2(dashboard.v1_data())
    validate_spec(json.loads(json.dumps(converted)))

    def norm(spec: dict[str, Any]) -> Any:
        spec = json.loads(json.dumps(spec))
        spec.pop("duration", None)
        for variable in spec["variables"]:
            variable["spec"]["display"].pop("name")
        for panel in spec["panels"].values():
            panel["spec"].pop("links", None)
            for column in panel["spec"]["plugin"]["spec"].get("selectFields") or []:
                column.pop("signal", None)
            for query in panel["spec"]["queries"]:
                query["spec"].pop("name", None)
        for layout in spec["layouts"]:
            layout["spec"].get("display", {}).pop("collapse", None)
        return _strip(spec)

    assert norm(converted) == norm(dashboard.spec())
    assert len(converted["panels"]) == len(dashboard.panels)


def test_alerts_on_a_signoz_before_the_v2_rule_api() -> None:
    with SigNozDouble({KEY: ("a@x", ADMIN)}, mode="v1", version="v0.110.0") as api:
        result = launcher(["alerts", "install"], env=clean_env({"SIGNOZ_URL": api.url, "SIGNOZ_API_KEY": KEY}))
        assert result.returncode == 1
        assert "predates the v2 alert-rule API (SigNoz v0.120)" in result.stderr and "Traceback" not in result.stderr
        assert _writes(api) == []
    with SigNozDouble({KEY: ("a@x", ADMIN)}, mode="v1") as api:  # v0.125.1: v1 dashboards, v2 rules
        result = launcher(["alerts", "install"], env=clean_env({"SIGNOZ_URL": api.url, "SIGNOZ_API_KEY": KEY}))
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("created") == 3 and len(api.rules) == 3


def test_after_signoz_converts_our_v1_dashboards_install_takes_them_over(signoz: SigNozDouble) -> None:
    """The upgrade to v0.135 converts each v1 dashboard in place (same id; `key:value` tags become tags): ours,
    unchanged since, are updated to the v2 form in place; one changed after the conversion is kept."""
    for dashboard in DASHBOARDS:  # what 103_migrate_dashboards_v1_to_v2.go leaves in the store
        data = dashboard.v1_data()
        stored = validate_spec(json.loads(json.dumps(convert_v1_to_v2(data))))
        server_id = f"00000000-0000-4000-8000-{len(signoz.dashboards):012d}"
        signoz.dashboards[server_id] = {
            "id": server_id, "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z",
            "createdBy": "admin@example.com", "updatedBy": "admin@example.com", "orgId": "o", "locked": False,
            "source": "user", "schemaVersion": "v6", "image": "", "name": f"{dashboard.id}-x1y2",
            "tags": v1form.tag_pairs(data["tags"]), "spec": stored}
    edited = _by_our_id(signoz)["batch-jobs"]
    signoz.edit(edited["id"], lambda spec: spec["display"].update(name="Our nightly jobs"))
    ids = {k: v["id"] for k, v in _by_our_id(signoz).items()}

    result = _cli("install", url=signoz.url)
    assert result.returncode == 0, result.stderr
    assert "updated      LiteLLM overview (an older version of ours)" in result.stdout
    assert "updated      LiteLLM proxy (an older version of ours)" in result.stdout
    assert "skipped      LiteLLM batch jobs (changed in SigNoz since" in result.stdout
    after = _by_our_id(signoz)
    assert {k: v["id"] for k, v in after.items()} == ids and len(signoz.dashboards) == 3
    assert revision(after["litellm-overview"]["spec"]) == definitions.BY_ID["litellm-overview"].revision()
    assert after["batch-jobs"]["spec"]["display"]["name"] == "Our nightly jobs"
    again = _cli("install", "litellm-overview", "litellm-proxy", url=signoz.url)
    assert again.returncode == 0 and again.stdout.count("unchanged") == 2, again.stdout


def test_on_signoz_with_both_apis_ours_stay_where_they_are() -> None:
    """v0.129-v0.134: installed through v1 before an upgrade, ours are kept up to date there (no v2 copy); a
    server with none of ours gets the v2 form."""
    with SigNozDouble({KEY: ("a@x", ADMIN)}, mode="both") as api:
        client = Client(api.url, KEY)
        for dashboard in DASHBOARDS:  # what an install on v0.125 left behind
            client.request("POST", "/api/v1/dashboards", dashboard.v1_data())
        result = _cli("install", url=api.url)
        assert result.returncode == 0, result.stderr
        assert "(SigNoz v0.132.0, v1 dashboards API)" in result.stdout and result.stdout.count("unchanged") == 3
        assert api.dashboards == {} and len(api.v1_dashboards) == 3
    with SigNozDouble({KEY: ("a@x", ADMIN)}, mode="both") as api:
        result = _cli("install", url=api.url)
        assert result.returncode == 0 and "v1 dashboards API" not in result.stdout
        assert result.stdout.count("created") == 3 and len(api.dashboards) == 3 and api.v1_dashboards == {}
