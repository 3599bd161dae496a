#!/usr/bin/env python3
"""Does the server path waste the engine? Two measurements of issue 5, in one run on one machine:

1. Throughput: N concurrent streaming clients (random-token prompts of I tokens, O output tokens forced with
   ignore_eos) against `tessera serve`, versus `tessera bench throughput` in-process on the same workload.
   Reports both output tok/s and their ratio.
2. Pacing: the same clients' inter-token latencies (median and p99, over every client's gaps between SSE chunks)
   while one more client sends a long prompt, to show a long prefill does not stall running streams.

Standard library only (http.client over threads, SSE parsed by hand), so the client costs little CPU beside the
server on a small machine.

  bench/serve_vs_offline.py build/tessera [--model default] [--clients 16] [--input-len 128] [--output-len 64]
                            [--long-prompt 4000] [--threads 2] [--json]
"""
import argparse
import http.client
import json
import random
import re
import statistics
import subprocess
import sys
import threading
import time


def start_server(binary, model, threads, extra):
    proc = subprocess.Popen([binary, "serve", model, "--host", "127.0.0.1", "--port", "0", "--threads", str(threads)]
                            + extra, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = None
    for line in proc.stdout:
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if m:
            port = int(m.group(1))
        if "ready: serving" in line:
            break
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, port


def stream_completion(port, prompt_ids, max_tokens, gaps=None, result=None):
    """One streaming /v1/completions request with token-id prompt; returns completion tokens."""
    body = json.dumps({"model": "bench", "prompt": prompt_ids, "max_tokens": max_tokens, "stream": True,
                       "ignore_eos": True, "temperature": 0, "stream_options": {"include_usage": True}})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    tokens, last = 0, None
    for raw in resp:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
        if chunk.get("choices") and chunk["choices"][0].get("text"):
            now = time.perf_counter()
            if last is not None and gaps is not None:
                gaps.append(now - last)
            last = now
    conn.close()
    if result is not None:
        result.append(tokens)
    return tokens


def run_clients(port, prompts, output_len, gaps):
    results, threads = [], []
    t0 = time.perf_counter()
    for p in prompts:
        t = threading.Thread(target=stream_completion, args=(port, p, output_len, gaps, results))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return sum(results), time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--model", default="default")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--input-len", type=int, default=128)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--long-prompt", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=49152)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    offline = json.loads(subprocess.run(
        [args.binary, "bench", "throughput", args.model, "--num-prompts", str(args.clients), "--input-len",
         str(args.input_len), "--output-len", str(args.output_len), "--threads", str(args.threads), "--json"],
        check=True, capture_output=True, text=True).stdout)

    rng = random.Random(0)
    proc, port = start_server(args.binary, args.model, args.threads, ["--served-model-name", "bench"])
    try:
        prompts = [[rng.randrange(args.vocab) for _ in range(args.input_len)] for _ in range(args.clients)]
        stream_completion(port, prompts[0][:16], 2)  # warm-up
        gaps = []
        tokens, elapsed = run_clients(port, prompts, args.output_len, gaps)
        served_tps = tokens / elapsed

        # Pacing: the same clients, and one long prompt arriving once they are streaming.
        prompts = [[rng.randrange(args.vocab) for _ in range(args.input_len)] for _ in range(args.clients)]
        quiet_gaps, busy_gaps = [], []
        long_done = []
        long_prompt = [rng.randrange(args.vocab) for _ in range(args.long_prompt)]

        def long_client():
            time.sleep(0.5)
            stream_completion(port, long_prompt, 4, None, long_done)

        lt = threading.Thread(target=long_client)
        lt.start()
        run_clients(port, prompts, args.output_len * 4, busy_gaps)
        lt.join()
    finally:
        proc.terminate()
        proc.wait(60)

    def pct(v, q):
        v = sorted(v)
        return v[min(len(v) - 1, int(q * len(v)))] if v else 0.0

    out = {
        "clients": args.clients, "input_len": args.input_len, "output_len": args.output_len,
        "offline_output_tokens_per_s": offline["output_tokens_per_s"],
        "served_output_tokens_per_s": served_tps,
        "served_over_offline": served_tps / offline["output_tokens_per_s"],
        "itl_median_ms": 1000 * statistics.median(gaps) if gaps else 0.0,
        "itl_p99_ms": 1000 * pct(gaps, 0.99),
        "long_prompt_tokens": args.long_prompt,
        "itl_with_long_prompt_median_ms": 1000 * statistics.median(busy_gaps) if busy_gaps else 0.0,
        "itl_with_long_prompt_p99_ms": 1000 * pct(busy_gaps, 0.99),
        "commit": offline.get("commit"), "machine": offline.get("machine"),
        "command": " ".join(sys.argv),
    }
    out["itl_p99_over_median_with_long_prompt"] = (out["itl_with_long_prompt_p99_ms"] /
                                                   max(out["itl_with_long_prompt_median_ms"], 1e-9))
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:42s} {v:.3f}" if isinstance(v, float) else f"{k:42s} {v}")


if __name__ == "__main__":
    main()
