"""SigNoz dashboards for LiteLLM, authored here for the telemetry signoz-litellm sends, and their installation.

`definitions` (the dashboards), `client` (SigNoz's HTTP API), `plan` (what install will do), `install` (the
read-plan-write flow), `commands` (what `signoz-litellm dashboards ...` runs and prints).
"""
