"""Continuous-integration detection and CI/CD + VCS resource attributes, as pure functions of the environment.

The attribute names follow the OpenTelemetry semantic conventions for CI/CD and VCS resources
(`cicd.pipeline.*`, `cicd.worker.*`, `vcs.*`), so one CI run's telemetry can be found in SigNoz by
pipeline, run id, repository, branch or commit.
"""

from __future__ import annotations

from collections.abc import Mapping

# Variables that say "this is a CI run", in the order they are checked.
_CI_MARKERS = (
    ("GITHUB_ACTIONS", "github-actions"),
    ("GITLAB_CI", "gitlab-ci"),
    ("BUILDKITE", "buildkite"),
    ("CIRCLECI", "circleci"),
    ("JENKINS_URL", "jenkins"),
    ("TF_BUILD", "azure-pipelines"),
    ("BITBUCKET_BUILD_NUMBER", "bitbucket-pipelines"),
    ("TEAMCITY_VERSION", "teamcity"),
    ("TRAVIS", "travis-ci"),
    ("DRONE", "drone"),
    ("CODEBUILD_BUILD_ID", "aws-codebuild"),
    ("CI", "ci"),
)
_FALSE = {"", "0", "false", "no", "off"}
CI_MARKER_VARIABLES = tuple(name for name, _ in _CI_MARKERS)


def detect_ci(environ: Mapping[str, str]) -> str | None:
    """The CI system running us (e.g. "github-actions"), or None outside CI."""
    for name, system in _CI_MARKERS:
        value = environ.get(name)
        if value is not None and value.strip().lower() not in _FALSE:
            return system
    return None


def report_enabled(report: bool | None, environ: Mapping[str, str]) -> bool:
    """`--report/--no-report` when given, else on in CI and off elsewhere."""
    return report if report is not None else detect_ci(environ) is not None


# Attribute -> the CI's variable, for the systems whose variables map one to one.
_VARIABLES: dict[str, dict[str, str]] = {
    "buildkite": {
        "cicd.pipeline.name": "BUILDKITE_PIPELINE_SLUG", "cicd.pipeline.run.id": "BUILDKITE_BUILD_ID",
        "cicd.pipeline.run.url.full": "BUILDKITE_BUILD_URL", "cicd.pipeline.task.name": "BUILDKITE_LABEL",
        "vcs.repository.url.full": "BUILDKITE_REPO", "vcs.ref.head.name": "BUILDKITE_BRANCH",
        "vcs.ref.head.revision": "BUILDKITE_COMMIT"},
    "circleci": {
        "cicd.pipeline.name": "CIRCLE_PROJECT_REPONAME", "cicd.pipeline.run.id": "CIRCLE_WORKFLOW_ID",
        "cicd.pipeline.run.url.full": "CIRCLE_BUILD_URL", "cicd.pipeline.task.name": "CIRCLE_JOB",
        "vcs.repository.url.full": "CIRCLE_REPOSITORY_URL", "vcs.ref.head.name": "CIRCLE_BRANCH",
        "vcs.ref.head.revision": "CIRCLE_SHA1"},
    "jenkins": {
        "cicd.pipeline.name": "JOB_NAME", "cicd.pipeline.run.id": "BUILD_NUMBER",
        "cicd.pipeline.run.url.full": "BUILD_URL", "vcs.repository.url.full": "GIT_URL",
        "vcs.ref.head.name": "GIT_BRANCH", "vcs.ref.head.revision": "GIT_COMMIT"},
    "azure-pipelines": {
        "cicd.pipeline.name": "BUILD_DEFINITIONNAME", "cicd.pipeline.run.id": "BUILD_BUILDID",
        "cicd.pipeline.task.name": "SYSTEM_JOBDISPLAYNAME", "vcs.repository.url.full": "BUILD_REPOSITORY_URI",
        "vcs.ref.head.name": "BUILD_SOURCEBRANCHNAME", "vcs.ref.head.revision": "BUILD_SOURCEVERSION"},
}


def resource_attributes(environ: Mapping[str, str]) -> dict[str, str]:
    """CI/CD and VCS resource attributes of the current run (empty outside a known CI)."""
    system = detect_ci(environ)
    if system == "github-actions":
        attributes = _github(environ)
    elif system == "gitlab-ci":
        attributes = _gitlab(environ)
    else:
        attributes = _pick(environ, _VARIABLES.get(system or "", {}))
    return {k: v for k, v in attributes.items() if v}


def _pick(environ: Mapping[str, str], names: Mapping[str, str]) -> dict[str, str]:
    return {attribute: environ.get(variable, "") for attribute, variable in names.items()}


def _github(environ: Mapping[str, str]) -> dict[str, str]:
    server = environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repository = environ.get("GITHUB_REPOSITORY", "")
    run_id = environ.get("GITHUB_RUN_ID", "")
    ref_type = environ.get("GITHUB_REF_TYPE", "")
    # On a pull request GITHUB_HEAD_REF is the source branch; GITHUB_REF_NAME is "<n>/merge".
    head = environ.get("GITHUB_HEAD_REF") or environ.get("GITHUB_REF_NAME", "")
    attributes = {
        "cicd.pipeline.name": environ.get("GITHUB_WORKFLOW", ""),
        "cicd.pipeline.run.id": run_id,
        "cicd.pipeline.run.url.full": f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id else "",
        "cicd.pipeline.task.name": environ.get("GITHUB_JOB", ""),
        "cicd.worker.name": environ.get("RUNNER_NAME", ""),
        "vcs.provider.name": "github",
        "vcs.repository.name": repository.rsplit("/", 1)[-1] if repository else "",
        "vcs.repository.url.full": f"{server}/{repository}" if repository else "",
        "vcs.ref.head.name": head,
        "vcs.ref.head.revision": environ.get("GITHUB_SHA", ""),
        "vcs.ref.head.type": "tag" if ref_type == "tag" else ("branch" if head else ""),
    }
    ref = environ.get("GITHUB_REF", "")
    if ref.startswith("refs/pull/"):
        attributes["vcs.change.id"] = ref.split("/")[2]
        attributes["vcs.ref.base.name"] = environ.get("GITHUB_BASE_REF", "")
    return attributes


def _gitlab(environ: Mapping[str, str]) -> dict[str, str]:
    head = environ.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or environ.get("CI_COMMIT_REF_NAME", "")
    return {
        "cicd.pipeline.name": environ.get("CI_PIPELINE_NAME") or environ.get("CI_PROJECT_PATH", ""),
        "cicd.pipeline.run.id": environ.get("CI_PIPELINE_ID", ""),
        "cicd.pipeline.run.url.full": environ.get("CI_PIPELINE_URL", ""),
        "cicd.pipeline.task.name": environ.get("CI_JOB_NAME", ""),
        "cicd.pipeline.task.run.id": environ.get("CI_JOB_ID", ""),
        "cicd.pipeline.task.run.url.full": environ.get("CI_JOB_URL", ""),
        "cicd.worker.name": environ.get("CI_RUNNER_DESCRIPTION", ""),
        "vcs.provider.name": "gitlab",
        "vcs.repository.name": environ.get("CI_PROJECT_NAME", ""),
        "vcs.repository.url.full": environ.get("CI_PROJECT_URL", ""),
        "vcs.ref.head.name": head,
        "vcs.ref.head.revision": environ.get("CI_COMMIT_SHA", ""),
        "vcs.ref.head.type": "tag" if environ.get("CI_COMMIT_TAG") else ("branch" if head else ""),
        "vcs.change.id": environ.get("CI_MERGE_REQUEST_IID", ""),
        "vcs.ref.base.name": environ.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", ""),
    }
