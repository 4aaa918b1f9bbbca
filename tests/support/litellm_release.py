"""What the installed LiteLLM release has, for tests whose expectations differ by release (the differences are
listed in docs/compatibility-litellm.md). Read from the package's metadata: LiteLLM is not imported here."""

from __future__ import annotations

from importlib.metadata import version

from packaging.version import Version

LITELLM = Version(version("litellm"))
# 1.75 has no GenAI metrics, and makes raw_gen_ai_request inside its handler (nothing to switch off).
HAS_GENAI_METRICS = LITELLM >= Version("1.76")
RAW_REQUEST_SPAN_OPTIONAL = LITELLM >= Version("1.76")
