#!/usr/bin/env python3
"""Instructions the export filter (hook/export_filter.py) adds per LiteLLM call, by setting.

A call's spans as they reach our span exporter: its `litellm_request` span (the ~40 attributes LiteLLM 1.110 sets,
with a prompt of --prompt-bytes characters in `gen_ai.input.messages`, one planted key in it, and the completion)
and the provider call's HTTP client span, made with the OpenTelemetry SDK. Each setting's process filters them
--calls times under `valgrind --tool=callgrind`; the same process filtering them 0 times is subtracted, so what
is left is the filter's own work (the scrubber's included), per call. Instruction counts do not move with the
machine's load; the whole per-call cost of a job is scripts/bench_instructions.py's (`--env` sets the scrub mode).

Usage: .venv/bin/python scripts/bench_export_filter.py [--calls 200] [--prompt-bytes 2000]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = (
    ("full, scrub default", "full", "default"),
    ("full, scrub pii", "full", "pii"),
    ("none, scrub default", "none", "default"),
    ("none, scrub off", "none", "off"),
)


def _spans(prompt_bytes: int) -> list:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    context = ("lorem ipsum dolor sit amet " * (prompt_bytes // 27 + 1))[:prompt_bytes]
    prompt = context[: prompt_bytes // 2] + " my key is sk-live-ABCDEF0123456789ABCDEF " + context[prompt_bytes // 2:]
    messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": prompt}]}])
    completion = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Hello from the fake "
                                                                "provider."}], "finish_reason": "stop"}])
    attributes = {
        "metadata.applied_guardrails": "[]",
        "metadata.usage_object": "{'completion_tokens': 5, 'prompt_tokens': 380, 'total_tokens': 385}",
        "hidden_params": '{"model_id": null, "cache_key": null, "api_base": "http://127.0.0.1:4000/v1", '
                         '"response_cost": 6.0e-05, "additional_headers": {"llm_provider-server": "BaseHTTP/0.6"}}',
        "litellm.provider.model": "openai/gpt-4o-mini", "gen_ai.cost.total_cost": 6.0e-05,
        "gen_ai.cost.input_cost": 5.7e-05, "gen_ai.cost.output_cost": 3.0e-06, "gen_ai.cost.tool_usage_cost": 0.0,
        "gen_ai.cost.original_cost": 6.0e-05, "gen_ai.cost.discount_percent": 0.0,
        "gen_ai.cost.discount_amount": 0.0, "gen_ai.cost.margin_percent": 0.0,
        "gen_ai.cost.margin_fixed_amount": 0.0, "gen_ai.cost.margin_total_amount": 0.0, "litellm.cache_hit": False,
        "gen_ai.request.model": "gpt-4o-mini", "llm.request.type": "completion", "gen_ai.system": "openai",
        "llm.is_streaming": "False", "llm.user": "user-42", "gen_ai.response.id": "chatcmpl-1a3f3480cd614af7a74b47f4",
        "litellm.call_id": "ecba8d02-515e-497d-a025-9a83f82b2926", "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.usage.total_tokens": 385, "gen_ai.usage.output_tokens": 5, "gen_ai.usage.input_tokens": 380,
        "gen_ai.input.messages": messages, "gen_ai.operation.name": "chat", "gen_ai.output.messages": completion,
        "gen_ai.response.finish_reasons": '["stop"]', "user.id": "user-42", "session.id": "sess-7",
        "gen_ai.conversation.id": "sess-7", "tags": ("nightly", "eval"), "metadata.customer": "acme",
        "gen_ai.usage.prompt_tokens": 380, "gen_ai.usage.completion_tokens": 5, "llm.usage.total_tokens": 385,
    }
    with tracer.start_as_current_span("litellm_request") as span:
        span.set_attributes(attributes)
    with tracer.start_as_current_span("POST") as span:
        span.set_attributes({"http.method": "POST", "http.url": "http://127.0.0.1:4000/v1/chat/completions",
                             "http.status_code": 200, "server.address": "127.0.0.1", "server.port": 4000})
    return list(exporter.get_finished_spans())


def inner(calls: int, prompt_bytes: int, capture: str, scrub: str) -> None:
    sys.path.insert(0, str(ROOT))
    from signoz_litellm_run.hook.export_filter import Policy

    spans = _spans(prompt_bytes)
    policy = Policy(capture, scrub)
    policy.spans(spans)  # the first call compiles the scrubber's patterns and fills its caches: not counted
    for _ in range(calls):
        policy.spans(spans)


def count(calls: int, prompt_bytes: int, capture: str, scrub: str, workdir: str) -> int:
    out = os.path.join(workdir, f"cg.{capture}.{scrub}.{calls}")
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
                    "--inner", str(calls), str(prompt_bytes), capture, scrub], check=True, capture_output=True)
    return sum(int(line.split()[1]) for path in glob.glob(out + "*") for line in open(path)
               if line.startswith("totals:"))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        inner(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--prompt-bytes", type=int, default=2000)
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("error: valgrind is not installed\nhint: apt install valgrind")
    print(f"| setting ({args.prompt_bytes}-character prompt) | instructions per call |")
    print("|---|---|")
    with tempfile.TemporaryDirectory() as workdir:
        for label, capture, scrub in SETTINGS:
            base = count(0, args.prompt_bytes, capture, scrub, workdir)
            total = count(args.calls, args.prompt_bytes, capture, scrub, workdir)
            print(f"| {label} | {(total - base) / args.calls / 1e3:.1f} k |", flush=True)


if __name__ == "__main__":
    main()
