"""Settings resolution: precedence, config files, validation, service-name derivation."""

from __future__ import annotations

from pathlib import Path

import pytest

from signoz_litellm_run.errors import UsageError
from signoz_litellm_run.settings import derive_service_name, mask_secret, resolve

KEY = "0123456789abcdef-KEY"


def _resolve(tmp_path: Path, flags=None, env=None, command=("python", "app.py"), **kw):
    return resolve(flags or {}, env or {}, tmp_path, command, **kw)


def test_flag_beats_env_beats_config_beats_default(tmp_path: Path) -> None:
    (tmp_path / "signoz-litellm.toml").write_text(
        'region = "eu"\nservice-name = "from-config"\nenvironment = "staging"\nprotocol = "http/protobuf"\n'
        'ingestion-key = "config-key-0123456789"\n')
    env = {"SIGNOZ_REGION": "in", "OTEL_SERVICE_NAME": "from-env", "SIGNOZ_INGESTION_KEY": KEY}
    s = _resolve(tmp_path, flags={"region": "us"}, env=env)
    assert s.region == "us" and s.source("region") == "flag --region"
    assert s.endpoint == "https://ingest.us.signoz.cloud:443"
    assert s.service_name == "from-env" and s.source("service_name") == "env OTEL_SERVICE_NAME"
    assert s.environment == "staging" and s.source("environment").startswith("config ")
    assert s.protocol == "http/protobuf"
    assert s.ingestion_key == KEY
    assert s.shutdown_timeout == 1.0 and s.source("shutdown_timeout") == "default"
    assert s.max_request_size == 4_000_000 and s.source("max_request_size") == "default"
    assert s.config_file == str(tmp_path / "signoz-litellm.toml")


def test_pyproject_table_and_explicit_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n[tool.signoz-litellm]\nendpoint = "http://collector:4317"\n')
    s = _resolve(tmp_path)
    assert s.endpoint == "http://collector:4317" and "[tool.signoz-litellm]" in s.config_file
    other = tmp_path / "other.toml"
    other.write_text('endpoint = "http://other:4318"\nprotocol = "http"\n')
    s = _resolve(tmp_path, env={"SIGNOZ_LITELLM_CONFIG": str(other)})
    assert s.endpoint == "http://other:4318" and s.protocol == "http/protobuf"
    s = _resolve(tmp_path, config_path="other.toml")  # relative to the working directory
    assert s.endpoint == "http://other:4318"


def test_signoz_variables_beat_generic_otel_ones_and_flags_beat_both(tmp_path: Path) -> None:
    env = {"SIGNOZ_REGION": "eu", "SIGNOZ_INGESTION_KEY": KEY, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://stale:4317",
           "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "SIGNOZ_PROTOCOL": "grpc"}
    s = _resolve(tmp_path, env=env)
    assert s.endpoint == "https://ingest.eu.signoz.cloud:443" and s.protocol == "grpc"
    s = _resolve(tmp_path, env=env, flags={"endpoint": "http://mine:4317"})
    assert s.endpoint == "http://mine:4317"
    # With nothing of ours set, the user's OTEL_* variables are used.
    s = _resolve(tmp_path, env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"})
    assert s.endpoint == "http://otel:4318" and s.protocol == "http/protobuf"
    assert s.source("endpoint") == "env OTEL_EXPORTER_OTLP_ENDPOINT"


def test_resource_attributes_are_merged_across_levels(tmp_path: Path) -> None:
    (tmp_path / "signoz-litellm.toml").write_text('endpoint = "http://c:4317"\n[resource-attributes]\nteam = "cfg"\nregion = "x"\n')
    s = _resolve(tmp_path, env={"OTEL_RESOURCE_ATTRIBUTES": "team=env,owner=me%20too"},
                 flags={"resource_attributes": "team=flag,tier=1"})
    assert dict(s.resource_attributes) == {"team": "flag", "region": "x", "owner": "me too", "tier": "1"}


def test_service_name_from_resource_attributes_then_command(tmp_path: Path) -> None:
    s = _resolve(tmp_path, flags={"endpoint": "http://c:4317"}, env={"OTEL_RESOURCE_ATTRIBUTES": "service.name=svc"})
    assert s.service_name == "svc"
    s = _resolve(tmp_path, flags={"endpoint": "http://c:4317"}, command=("python", "-m", "jobs.nightly"))
    assert s.service_name == "jobs.nightly" and s.source("service_name") == "derived from the command"


@pytest.mark.parametrize("command, expected", [
    (["python", "main.py"], "main"),
    (["/usr/bin/python3.11", "-u", "scripts/eval_run.py", "--x"], "eval_run"),
    (["python3", "-m", "mypkg"], "mypkg"),
    (["python", "-mmypkg.cli"], "mypkg.cli"),
    (["python", "src/summarize/__main__.py"], "summarize"),
    (["litellm", "--config", "c.yaml"], "litellm-proxy"),
    (["uvicorn", "app:api"], "uvicorn"),
    (["/opt/venv/bin/my-job"], "my-job"),
])
def test_derive_service_name(command: list[str], expected: str) -> None:
    assert derive_service_name(command) == expected


def test_derive_service_name_for_inline_code_uses_the_directory(tmp_path: Path) -> None:
    assert derive_service_name(["python", "-c", "pass"], tmp_path / "billing-job") == "billing-job"
    assert derive_service_name(["python"], Path("/")) == "python-app"


@pytest.mark.parametrize("flags, env, message", [
    ({"region": "usa"}, {}, "unknown SigNoz Cloud region 'usa'; valid regions: us, eu, in, us2, eu2, in2"),
    ({"region": "us"}, {}, "SigNoz Cloud needs an ingestion key"),
    ({"endpoint": "ftp://x:1"}, {}, "must start with http:// (plain text) or https:// (TLS)"),
    ({"endpoint": "http://host:99999"}, {}, "invalid port"),
    ({"endpoint": "http://"}, {}, "has no valid host"),
    ({"endpoint": "http://c:4317", "protocol": "http/json"}, {}, "unsupported OTLP protocol 'http/json'"),
    ({}, {}, "No destination for the telemetry"),
    ({"endpoint": "http://c:4317"}, {"SIGNOZ_SHUTDOWN_TIMEOUT": "soon"}, "env SIGNOZ_SHUTDOWN_TIMEOUT"),
    ({"endpoint": "http://c:4317"}, {"SIGNOZ_REPORT": "maybe"}, "is not a boolean"),
    ({"endpoint": "http://c:4317"}, {"SIGNOZ_MAX_REQUEST_SIZE": "lots"}, "is not a size in bytes"),
    ({"endpoint": "http://c:4317", "max_request_size": "4GB"}, {}, "is not a size in bytes"),
    ({"endpoint": "http://c:4317", "max_request_size": "1000"}, {}, "outside 64KiB to 64MiB"),
    ({"endpoint": "http://c:4317", "max_request_size": "65MiB"}, {}, "outside 64KiB to 64MiB"),
    ({"region": "us"}, {"SIGNOZ_INGESTION_KEY": "abc def"}, "contains spaces"),
    ({"endpoint": "http://c:4317", "resource_attributes": "novalue"}, {}, "not of the form key=value"),
    ({"endpoint": "http://c:4317", "ca_cert": "/nonexistent/ca.pem"}, {}, "does not exist"),
    ({"endpoint": "http://c:4317", "report_file": ""}, {}, "Invalid flag --report-file: the path is empty"),
    ({"endpoint": "http://c:4317", "report_file": "/"}, {}, "Invalid flag --report-file: / is a directory, not a file"),
    ({"local": True}, {"SIGNOZ_LOCAL_OUTPUT": "/"}, "env SIGNOZ_LOCAL_OUTPUT: / is a directory"),
    ({"endpoint": "http://c:4317", "span_detail": "verbose"}, {},
     "Invalid flag --span-detail: unknown span detail 'verbose'; use lean or full"),
    ({"endpoint": "http://c:4317"}, {"SIGNOZ_LITELLM_SPAN_DETAIL": "all"}, "env SIGNOZ_LITELLM_SPAN_DETAIL"),
])
def test_invalid_input_is_one_usage_error_with_a_hint(tmp_path: Path, flags, env, message) -> None:
    with pytest.raises(UsageError) as info:
        _resolve(tmp_path, flags=flags, env=env)
    assert message in info.value.message
    assert info.value.hint and info.value.exit_code == 2
    assert "abc def" not in info.value.message  # a bad key is never echoed


def test_key_in_user_otel_headers_satisfies_cloud(tmp_path: Path) -> None:
    s = _resolve(tmp_path, flags={"region": "us"}, env={"OTEL_EXPORTER_OTLP_HEADERS": f"signoz-ingestion-key={KEY}"})
    assert s.is_cloud and s.ingestion_key is None


def test_a_bad_value_in_the_config_file_names_its_key(tmp_path: Path) -> None:
    (tmp_path / "signoz-litellm.toml").write_text('endpoint = "http://c:4317"\nmax-request-size = true\n')
    with pytest.raises(UsageError) as info:
        _resolve(tmp_path)
    path = tmp_path / "signoz-litellm.toml"
    assert info.value.message == f"Invalid max-request-size in {path}: True is not a size in bytes (write it like " \
        "4000000, 4MB or 16MiB)."
    assert info.value.hint == f"Fix max-request-size in {path}; see `signoz-litellm {{run,env}} --help`."


def test_config_file_errors(tmp_path: Path) -> None:
    (tmp_path / "signoz-litellm.toml").write_text("regoin = 'us'\n")
    with pytest.raises(UsageError, match="unknown setting 'regoin'"):
        _resolve(tmp_path)
    (tmp_path / "signoz-litellm.toml").write_text("region = \n")
    with pytest.raises(UsageError, match="not valid TOML"):
        _resolve(tmp_path)
    with pytest.raises(UsageError, match="does not exist"):
        _resolve(tmp_path, config_path="missing.toml")


def test_local_mode_needs_no_destination_and_insecure_downgrades(tmp_path: Path) -> None:
    assert _resolve(tmp_path, flags={"local": True}).endpoint is None
    s = _resolve(tmp_path, flags={"endpoint": "collector.internal:4317", "insecure": True})
    assert s.endpoint == "http://collector.internal:4317"
    assert _resolve(tmp_path, flags={"endpoint": "collector.internal:4317"}).endpoint == "https://collector.internal:4317"


def test_key_is_masked_everywhere_it_could_show(tmp_path: Path) -> None:
    s = _resolve(tmp_path, flags={"region": "us", "ingestion_key": KEY})
    assert KEY not in repr(s)
    assert s.masked_key == "****-KEY" and mask_secret("short") == "****"


@pytest.mark.parametrize(("text", "size"), [("4000000", 4_000_000), ("4MB", 4_000_000), ("16MiB", 16 * 1024**2),
                                            ("512 KB", 512_000), ("64KiB", 65_536), ("64mib", 64 * 1024**2),
                                            (" 2000000 ", 2_000_000), (1_048_576, 1_048_576)])
def test_max_request_size_takes_bytes_with_or_without_a_unit(tmp_path: Path, text, size) -> None:
    s = _resolve(tmp_path, flags={"endpoint": "http://c:4317"}, env={"SIGNOZ_MAX_REQUEST_SIZE": str(text)})
    assert s.max_request_size == size and s.source("max_request_size") == "env SIGNOZ_MAX_REQUEST_SIZE"
    (tmp_path / "signoz-litellm.toml").write_text(f"max-request-size = {text!r}\n" if isinstance(text, str)
                                                  else f"max-request-size = {text}\n")
    assert _resolve(tmp_path, flags={"endpoint": "http://c:4317"}).max_request_size == size
