"""signoz-litellm: run any LiteLLM application with its traces, logs and metrics going to SigNoz."""

__version__ = "0.1.0"
