"""Resource attributes that tie a process's telemetry to its host, runtime, container and platform.

Without them a span's resource carried `service.name`, `service.instance.id` and the SDK's own fields, so SigNoz
could not relate a job's LLM telemetry to the host or process it came from. Detected at each process's start:
`host.name`, `host.arch`, `os.type`, `os.description`, `process.pid`, `process.runtime.name` / `.version`,
`process.command` (the program, never its arguments: they may hold secrets, which OpenTelemetry's own process
detector would send as `process.command_args`), `container.id` (from /proc/self/cgroup or mountinfo) and
`k8s.*` / `cloud.*` / `faas.*` from the variables Kubernetes and the cloud platforms set.

They are handed to OpenTelemetry's configurator in this process's OTEL_RESOURCE_ATTRIBUTES while it builds the
resource (`detected_while_configuring`), behind what the user gave there (a key the user set is never touched),
and the variable is put back before the program runs, so processes it starts detect their own. (The SDK's
resource detector entry points would cost every process a scan of the installed packages' metadata.)
All of it reads a few files and `os.uname()`: no subprocess, no network.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import quote, unquote

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i386": "x86", "i686": "x86",
         "x86": "x86", "ppc64le": "ppc64", "ppc64": "ppc64", "s390x": "s390x", "armv7l": "arm32", "armv6l": "arm32"}
_OS_TYPE = {"linux": "linux", "darwin": "darwin", "win32": "windows", "cygwin": "windows", "freebsd": "freebsd"}
_CONTAINER_ID = re.compile(r"(?:^|[/\-:])([0-9a-f]{64})(?:\.scope)?(?:$|/)")
_MOUNT_CONTAINER_ID = re.compile(r"/(?:docker/containers|overlay-containers|sandboxes)/([0-9a-f]{64})/")
_K8S_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def detect(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Every attribute found for this process."""
    found: dict[str, str] = {}
    uname = os.uname() if hasattr(os, "uname") else None
    try:
        if uname is not None:
            found["host.name"] = uname.nodename  # gethostname() on POSIX, without importing socket
        else:
            import socket

            found["host.name"] = socket.gethostname()
    except Exception:
        pass
    machine = uname.machine.lower() if uname else ""
    if machine:
        found["host.arch"] = _ARCH.get(machine, machine)
    os_type = next((v for k, v in _OS_TYPE.items() if sys.platform.startswith(k)), sys.platform)
    found["os.type"] = os_type
    if uname:
        found["os.description"] = f"{uname.sysname} {uname.release}"
    found["process.pid"] = str(os.getpid())
    found["process.runtime.name"] = sys.implementation.name
    found["process.runtime.version"] = ".".join(str(part) for part in sys.implementation.version[:3])
    command = _command()
    if command:
        found["process.command"] = command
    container = container_id()
    if container:
        found["container.id"] = container
    found.update(_kubernetes(environ))
    found.update(_cloud(environ))
    return found


def _command() -> str:
    """The program: the script's path, `-m module` or `-c`, never the arguments after it."""
    argv = getattr(sys, "argv", None) or []
    first = argv[0] if argv else ""
    if first == "-m":
        original = getattr(sys, "orig_argv", [])
        if "-m" in original and original.index("-m") + 1 < len(original):
            return "-m " + original[original.index("-m") + 1]
    return first or (getattr(sys, "executable", "") or "")


def container_id(cgroup: str = "/proc/self/cgroup", mountinfo: str = "/proc/self/mountinfo") -> str | None:
    for path, pattern in ((cgroup, _CONTAINER_ID), (mountinfo, _MOUNT_CONTAINER_ID)):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if pattern is _CONTAINER_ID:
                        line = line.rstrip("\n").split(":", 2)[-1]
                    match = pattern.search(line)
                    if match:
                        return match.group(1)
        except OSError:
            continue
    return None


def _kubernetes(environ: Mapping[str, str]) -> dict[str, str]:
    if not environ.get("KUBERNETES_SERVICE_HOST"):
        return {}
    found = {}
    for key, names in (("k8s.pod.name", ("K8S_POD_NAME", "POD_NAME", "HOSTNAME")),
                       ("k8s.namespace.name", ("K8S_NAMESPACE_NAME", "K8S_NAMESPACE", "POD_NAMESPACE")),
                       ("k8s.node.name", ("K8S_NODE_NAME", "NODE_NAME")),
                       ("k8s.pod.uid", ("K8S_POD_UID", "POD_UID")),
                       ("k8s.container.name", ("K8S_CONTAINER_NAME", "CONTAINER_NAME")),
                       ("k8s.deployment.name", ("K8S_DEPLOYMENT_NAME",))):
        value = next((environ[name] for name in names if environ.get(name)), None)
        if value:
            found[key] = value
    if "k8s.namespace.name" not in found:
        try:
            with open(_K8S_NAMESPACE_FILE, encoding="utf-8") as f:
                namespace = f.read().strip()
            if namespace:
                found["k8s.namespace.name"] = namespace
        except OSError:
            pass
    return found


def _cloud(environ: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    aws_region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        found.update({"cloud.provider": "aws", "cloud.platform": "aws_lambda",
                      "faas.name": environ["AWS_LAMBDA_FUNCTION_NAME"]})
        if environ.get("AWS_LAMBDA_FUNCTION_VERSION"):
            found["faas.version"] = environ["AWS_LAMBDA_FUNCTION_VERSION"]
    elif environ.get("ECS_CONTAINER_METADATA_URI_V4") or environ.get("ECS_CONTAINER_METADATA_URI"):
        found.update({"cloud.provider": "aws", "cloud.platform": "aws_ecs"})
    elif environ.get("K_SERVICE") and environ.get("K_REVISION"):  # Cloud Run (Cloud Functions 2nd gen too)
        found.update({"cloud.provider": "gcp",
                      "cloud.platform": "gcp_cloud_functions" if environ.get("FUNCTION_TARGET") else "gcp_cloud_run",
                      "faas.name": environ["K_SERVICE"], "faas.version": environ["K_REVISION"]})
    elif environ.get("FUNCTIONS_WORKER_RUNTIME") and environ.get("WEBSITE_SITE_NAME"):
        found.update({"cloud.provider": "azure", "cloud.platform": "azure_functions",
                      "faas.name": environ["WEBSITE_SITE_NAME"]})
    elif environ.get("WEBSITE_SITE_NAME") and environ.get("WEBSITE_INSTANCE_ID"):
        found.update({"cloud.provider": "azure", "cloud.platform": "azure_app_service"})
    if found.get("cloud.provider") == "aws" and aws_region:
        found["cloud.region"] = aws_region
    elif found.get("cloud.provider") == "azure" and environ.get("REGION_NAME"):
        found["cloud.region"] = environ["REGION_NAME"]
    return found


def user_keys(environ: Mapping[str, str]) -> set[str]:
    """The keys the user set in OTEL_RESOURCE_ATTRIBUTES (and service.name through OTEL_SERVICE_NAME)."""
    keys = {item.partition("=")[0].strip() for item in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")
            if "=" in item}
    if environ.get("OTEL_SERVICE_NAME"):
        keys.add("service.name")
    return keys


def merged(environ: Mapping[str, str]) -> str:
    """OTEL_RESOURCE_ATTRIBUTES with the detected attributes the user did not set placed before the user's."""
    user = environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    taken = user_keys(environ)
    ours = [f"{key}={quote(value, safe='/:@.-_~ ')}" for key, value in detect(environ).items() if key not in taken]
    return ",".join(part for part in (",".join(ours), user) if part)


@contextmanager
def detected_while_configuring() -> Iterator[None]:
    """This process's OTEL_RESOURCE_ATTRIBUTES holds the detected attributes for the duration (the SDK builds
    its resource from it), and is put back afterwards; a failing detection leaves the variable alone."""
    before = os.environ.get("OTEL_RESOURCE_ATTRIBUTES")
    try:
        os.environ["OTEL_RESOURCE_ATTRIBUTES"] = merged(os.environ)
    except Exception:
        pass
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OTEL_RESOURCE_ATTRIBUTES", None)
        else:
            os.environ["OTEL_RESOURCE_ATTRIBUTES"] = before


def decode(value: str) -> dict[str, str]:
    """OTEL_RESOURCE_ATTRIBUTES as OpenTelemetry reads it (for tests and `doctor`)."""
    return {k.strip(): unquote(v.strip()) for k, _, v in (p.partition("=") for p in value.split(",")) if k.strip()}
