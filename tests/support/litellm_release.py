"""What the installed LiteLLM release has, for tests whose expectations differ by release (the differences are
listed in docs/compatibility-litellm.md). Read from the package's metadata: LiteLLM is not imported here."""

from __future__ import annotations

from importlib.metadata import version

from packaging.version import Version

LITELLM = Version(version("litellm"))
# 1.75 has no GenAI metrics, and makes raw_gen_ai_request inside its handler (nothing to switch off).
HAS_GENAI_METRICS = LITELLM >= Version("1.76")
RAW_REQUEST_SPAN_OPTIONAL = LITELLM >= Version("1.76")
# 1.75's proxy does not ask the provider for a streamed answer's usage (LiteLLM counts it); 1.110 does. Releases
# between: not run with the proxy, taken as 1.110.
STREAM_USAGE_FROM_PROVIDER = LITELLM >= Version("1.76")
# Up to 1.78 a failed call's span has the error status only: no exception event, no message.
RECORDS_EXCEPTIONS = LITELLM >= Version("1.79")
# Up to 1.80.15 LiteLLM labels the output tokens of gen_ai.client.token.usage "completion", from 1.80.17 "output".
OUTPUT_TOKEN_TYPE = "output" if LITELLM >= Version("1.80.17") else "completion"
# The prompt attribute: gen_ai.prompt.0.content up to 1.80.15, gen_ai.input.messages from 1.80.17.
PROMPT_ATTRIBUTE = "gen_ai.input.messages" if LITELLM >= Version("1.80.17") else "gen_ai.prompt.0.content"
# 1.75 puts no `hidden_params` on a `litellm_request` span; 1.110 does. Releases between: not run with the proxy, taken
# as 1.110.
HIDDEN_PARAMS_ON_SPANS = LITELLM >= Version("1.76")
