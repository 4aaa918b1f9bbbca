"""CI detection, CI/CD + VCS resource attributes and the batch settings in the child's environment."""

from __future__ import annotations

from pathlib import Path

from signoz_litellm_run import ci, environment
from signoz_litellm_run.settings import resolve

GITHUB_PR = {
    "GITHUB_ACTIONS": "true", "GITHUB_WORKFLOW": "evals", "GITHUB_RUN_ID": "99", "GITHUB_JOB": "nightly",
    "GITHUB_REPOSITORY": "acme/llm-jobs", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REF": "refs/pull/12/merge",
    "GITHUB_REF_NAME": "12/merge", "GITHUB_HEAD_REF": "feature/x", "GITHUB_BASE_REF": "main", "GITHUB_SHA": "deadbeef",
    "GITHUB_REF_TYPE": "branch", "RUNNER_NAME": "runner-1",
}
GITLAB = {
    "GITLAB_CI": "true", "CI": "true", "CI_PIPELINE_ID": "555", "CI_PIPELINE_URL": "https://gitlab.com/g/p/-/pipelines/555",
    "CI_PROJECT_PATH": "g/p", "CI_PROJECT_NAME": "p", "CI_PROJECT_URL": "https://gitlab.com/g/p", "CI_JOB_NAME": "eval",
    "CI_JOB_ID": "777", "CI_COMMIT_REF_NAME": "main", "CI_COMMIT_SHA": "cafe",
}


def test_detect_ci() -> None:
    assert ci.detect_ci({}) is None
    assert ci.detect_ci({"CI": "false"}) is None
    assert ci.detect_ci({"CI": "true"}) == "ci"
    assert ci.detect_ci({"CI": "true", "GITHUB_ACTIONS": "true"}) == "github-actions"
    assert ci.detect_ci(GITLAB) == "gitlab-ci"
    assert ci.detect_ci({"BUILDKITE": "true"}) == "buildkite"
    assert ci.detect_ci({"JENKINS_URL": "http://jenkins"}) == "jenkins"
    assert ci.detect_ci({"TF_BUILD": "True"}) == "azure-pipelines"


def test_report_is_on_in_ci_unless_told() -> None:
    assert ci.report_enabled(None, {"CI": "1"}) is True
    assert ci.report_enabled(None, {}) is False
    assert ci.report_enabled(False, {"CI": "1"}) is False
    assert ci.report_enabled(True, {}) is True


def test_github_pull_request_attributes() -> None:
    attributes = ci.resource_attributes(GITHUB_PR)
    assert attributes == {
        "cicd.pipeline.name": "evals",
        "cicd.pipeline.run.id": "99",
        "cicd.pipeline.run.url.full": "https://github.com/acme/llm-jobs/actions/runs/99",
        "cicd.pipeline.task.name": "nightly",
        "cicd.worker.name": "runner-1",
        "vcs.provider.name": "github",
        "vcs.repository.name": "llm-jobs",
        "vcs.repository.url.full": "https://github.com/acme/llm-jobs",
        "vcs.ref.head.name": "feature/x",
        "vcs.ref.head.revision": "deadbeef",
        "vcs.ref.head.type": "branch",
        "vcs.change.id": "12",
        "vcs.ref.base.name": "main",
    }


def test_gitlab_attributes() -> None:
    attributes = ci.resource_attributes(GITLAB)
    assert attributes["cicd.pipeline.run.id"] == "555"
    assert attributes["cicd.pipeline.name"] == "g/p"
    assert attributes["cicd.pipeline.task.run.id"] == "777"
    assert attributes["vcs.repository.url.full"] == "https://gitlab.com/g/p"
    assert attributes["vcs.ref.head.name"] == "main"
    assert attributes["vcs.ref.head.revision"] == "cafe"
    assert "vcs.change.id" not in attributes  # empty values are left out


def test_outside_ci_no_attributes() -> None:
    assert ci.resource_attributes({"HOME": "/root"}) == {}


def _updates(env: dict[str, str], flags: dict[str, object] | None = None) -> dict[str, str]:
    settings = resolve(flags or {}, env, Path("/tmp"), ["python", "job.py"], config_path=None)
    return environment.child_updates(settings, env, cwd="/tmp")


def test_child_updates_merge_ci_attributes_without_overriding_the_users() -> None:
    env = {**GITHUB_PR, "SIGNOZ_ENDPOINT": "http://localhost:4317", "OTEL_RESOURCE_ATTRIBUTES": "vcs.ref.head.name=mine,team=ml"}
    attributes = dict(pair.split("=", 1) for pair in _updates(env)["OTEL_RESOURCE_ATTRIBUTES"].split(","))
    assert attributes["vcs.ref.head.name"] == "mine" and attributes["team"] == "ml"
    assert attributes["cicd.pipeline.run.id"] == "99"
    assert attributes["vcs.repository.url.full"] == "https://github.com/acme/llm-jobs"


def test_child_updates_batch_settings() -> None:
    base = {"SIGNOZ_ENDPOINT": "http://localhost:4317"}
    updates = _updates(base)
    assert updates["SIGNOZ_LITELLM_REPORT"] == "0"
    assert updates["SIGNOZ_LITELLM_SHUTDOWN_TIMEOUT"] == "1"
    assert updates["SIGNOZ_LITELLM_MAX_REQUEST_BYTES"] == "4000000"
    assert updates["OTEL_BSP_MAX_QUEUE_SIZE"] == "16384"
    assert _updates({**base, "CI": "true"})["SIGNOZ_LITELLM_REPORT"] == "1"
    assert _updates({**base, "CI": "true"}, {"report": False})["SIGNOZ_LITELLM_REPORT"] == "0"
    assert _updates({**base, "OTEL_BSP_MAX_QUEUE_SIZE": "100"}).get("OTEL_BSP_MAX_QUEUE_SIZE") is None  # user's wins
    updates = _updates(base, {"report_file": "out/report.json", "shutdown_timeout": 2.5, "max_request_size": "16MiB"})
    assert updates["SIGNOZ_LITELLM_REPORT_FILE"] == str(Path("/tmp/out/report.json").resolve())
    assert updates["SIGNOZ_LITELLM_SHUTDOWN_TIMEOUT"] == "2.5"
    assert updates["SIGNOZ_LITELLM_MAX_REQUEST_BYTES"] == str(16 * 1024 * 1024)


def test_table_driven_systems_map_their_variables() -> None:
    env = {"BUILDKITE": "true", "BUILDKITE_PIPELINE_SLUG": "nightly", "BUILDKITE_BUILD_ID": "42",
           "BUILDKITE_BRANCH": "main", "BUILDKITE_COMMIT": "abc123"}
    assert ci.resource_attributes(env) == {"cicd.pipeline.name": "nightly", "cicd.pipeline.run.id": "42",
                                           "vcs.ref.head.name": "main", "vcs.ref.head.revision": "abc123"}
    assert ci.resource_attributes({"JENKINS_URL": "http://j", "JOB_NAME": "eval"}) == {"cicd.pipeline.name": "eval"}
    assert ci.resource_attributes({}) == {}
