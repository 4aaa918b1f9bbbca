"""Tiny, real wheels and throwaway virtual environments for the bootstrap tests (no network).

`build_wheel` writes a valid pure-Python wheel (METADATA, WHEEL, RECORD, modules) with `zipfile`;
`unpack_wheel` installs one into a site-packages directory the way an installer lays it out, so a test
environment can be prepared in milliseconds without running pip.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def _dist(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name)


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(directory: Path, name: str, version: str, files: Mapping[str, str] | None = None,
                requires: Sequence[str] = ()) -> Path:
    """Write `{name}-{version}-py3-none-any.whl` into `directory` and return its path."""
    dist_info = f"{_dist(name)}-{version}.dist-info"
    metadata = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                        *(f"Requires-Dist: {r}\n" for r in requires)])
    contents = dict(files or {f"{_dist(name).lower()}_mod.py": f"NAME = {name!r}\nVERSION = {version!r}\n"})
    contents[f"{dist_info}/METADATA"] = metadata
    contents[f"{dist_info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: tiny_wheels\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [f"{path},{_hash(text.encode())},{len(text.encode())}" for path, text in contents.items()]
    record.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{_dist(name)}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in contents.items():
            archive.writestr(member, text)
    return path


def unpack_wheel(wheel: Path, site_packages: Path) -> None:
    """Install a pure wheel by unpacking it (what an installer does, minus scripts)."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site_packages)


def make_venv(path: Path, *, pip: bool) -> Path:
    """A throwaway venv (never with system site-packages); `pip=True` unpacks the pip wheel that
    ships with Python (fast, offline). Returns its interpreter."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    if pip:
        import ensurepip

        bundled = glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl"))
        unpack_wheel(Path(bundled[0]), site_packages(python))
    return python


def site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    return Path(out)


def fake_bootstrap_gen(libraries: Sequence[tuple[str, str]], default: Sequence[str] = ()) -> str:
    """The text of an `opentelemetry/instrumentation/bootstrap_gen.py` with these tables."""
    rows = ",\n    ".join(f'{{"library": {lib!r}, "instrumentation": {inst!r}}}' for lib, inst in libraries)
    return f"libraries = [\n    {rows}\n]\ndefault_instrumentations = {list(default)!r}\n"
