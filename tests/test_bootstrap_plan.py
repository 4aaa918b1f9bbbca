"""Bootstrap's plan: requirements from `bootstrap_gen`'s tables and the installed distributions."""

from __future__ import annotations

from signoz_litellm_run.bootstrap_plan import requirements_for


def test_requirements_follow_installed_versions_and_disabled_instrumentations() -> None:
    gen = {
        "default": ["opentelemetry-instrumentation-threading==0.1"],
        "libraries": [
            {"library": "sqlalchemy >= 1.0.0, < 2.1.0", "instrumentation": "opentelemetry-instrumentation-sqlalchemy==0.1"},
            {"library": "httpx >= 0.18.0", "instrumentation": "opentelemetry-instrumentation-httpx==0.1"},
            {"library": "httpx2 >= 2.0.0", "instrumentation": "opentelemetry-instrumentation-httpx==0.1"},
            {"library": "openai >= 1.26.0", "instrumentation": "opentelemetry-instrumentation-openai-v2"},
            {"library": "aiohttp ~= 3.0", "instrumentation": "opentelemetry-instrumentation-aiohttp-client==0.1"},
            {"library": "redis >= 2.6", "instrumentation": "opentelemetry-instrumentation-redis==0.1"},
            {"library": "boto3 ~= 1.0", "instrumentation": "opentelemetry-instrumentation-boto3sqs==0.1"},
            {"library": "botocore ~= 1.0", "instrumentation": "opentelemetry-instrumentation-botocore==0.1"},
        ],
    }
    # sqlalchemy 2.3.0 is outside the range (opentelemetry-bootstrap would still ask for it).
    dists = {"sqlalchemy": "2.3.0", "httpx": "0.28.1", "httpx2": "2.16.2", "openai": "2.1.0",
             "aiohttp": "3.13.2", "opentelemetry-instrumentation-httpx": "0.1", "boto3": "1.40.0",
             "botocore": "1.40.0"}
    # Entry point names, not package names: boto3sqs registers `boto3`; botocore also `aiobotocore`.
    missing, present, skipped = requirements_for(gen, dists, ["openai", "aiohttp_client", "boto3", "botocore"])
    assert missing == ["opentelemetry-instrumentation-threading==0.1", "opentelemetry-instrumentation-botocore==0.1"]
    assert present == ["opentelemetry-instrumentation-httpx==0.1"]
    assert skipped == [("opentelemetry-instrumentation-openai-v2", "disabled: LiteLLM makes these spans"),
                       ("opentelemetry-instrumentation-aiohttp-client==0.1",
                        "disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"),
                       ("opentelemetry-instrumentation-boto3sqs==0.1",
                        "disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS")]
