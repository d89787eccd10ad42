"""Load benchmark of `bge serve`: an asyncio client (keep-alive connections, Python stdlib only) against a server it
starts, for 1, 8 and 64 concurrent clients. Per level: requests/s, p50/p99 latency seen by the client, batch fill
(mean sequences per forward pass, from /metrics), server CPU seconds per request (/proc), and the server's own
overhead per request: its time for the request minus tokenizing, queueing and the forward pass (HTTP parsing,
routing, JSON encoding), as a share of the forward pass.

Each level starts with one untimed request per client, so that the timed window sees the steady state (the
clients in step with the batches), not the first partial batches.

Usage: python3 bench/serve_load.py --bge build/bge [--model DIR] [--tokens 128] [--seconds 5] [--levels 1,8,64]
       [--threads N] [--max-wait-us 2000] [--peer]
--peer: right after each level (the server idle), the same run times the engine itself at that level's batch
(`bge bench --batch CLIENTS`: no HTTP, no scheduler) and prints the server's req/s as a share of its inputs/s.
Requests are POST /v1/embeddings with one input of exactly --tokens tokens (as token ids). The overhead is measured
with one client, where each forward pass holds one request.
Without --model it uses tests/golden/m3 (tiny). A BGE-M3-shaped folder comes from tools/make_test_models.py with
bench/cpu_vs_torch.py's FULL_SIZE arguments (needs torch). Prints a Markdown table and one JSON line.
"""
import argparse
import asyncio
import json
import os
import subprocess
import time

import serve_client
from serve_client import metrics, token_ids

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = os.sysconf("SC_CLK_TCK")


def start_server(args):
    extra = ["--max-wait-us", str(args.max_wait_us)] + (["--threads", str(args.threads)] if args.threads else [])
    return serve_client.start_server(args.bge, args.model, extra)


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def client(port, path, body, ready, go, window, latencies):
    conn = await serve_client.Connection.open(port)

    async def one():
        status, _ = await conn.post(path, body)
        if status != 200:
            raise RuntimeError(f"HTTP {status}")

    try:
        await one()  # untimed: every client has had an answer, so the timed window starts in steady state
    except BaseException:
        await ready.abort()  # the others and level() stop waiting
        raise
    await ready.wait()
    await go.wait()
    while time.perf_counter() < window["end"]:
        start = time.perf_counter()
        await one()
        latencies.append(time.perf_counter() - start)
    conn.close()


def delta(after, before, name):
    return after.get(name, 0) - before.get(name, 0)


async def level(port, pid, path, body, clients, seconds):
    """Each client sends one untimed request, then requests back to back for `seconds` (the ones in flight at the
    end are waited for and counted)."""
    latencies, window = [], {}
    ready, go = asyncio.Barrier(clients + 1), asyncio.Event()
    tasks = asyncio.gather(*(client(port, path, body, ready, go, window, latencies) for _ in range(clients)))
    await ready.wait()
    before, cpu_before = metrics(port), cpu_seconds(pid)
    start = time.perf_counter()
    window["end"] = start + seconds
    go.set()
    await tasks
    elapsed = time.perf_counter() - start
    after, cpu_after = metrics(port), cpu_seconds(pid)
    n = len(latencies)
    batches = delta(after, before, "bge_batch_size_count")
    forward = delta(after, before, "bge_inference_seconds_sum") / max(batches, 1)
    row = {
        "clients": clients, "requests": n, "rps": n / elapsed,
        "p50_ms": sorted(latencies)[n // 2] * 1e3, "p99_ms": sorted(latencies)[min(n - 1, int(n * 0.99))] * 1e3,
        "batch_fill": delta(after, before, "bge_batch_size_sum") / max(batches, 1),
        "cpu_ms_per_request": (cpu_after - cpu_before) / n * 1e3, "forward_ms": forward * 1e3,
        # Share of the wall time the model worker spent in forward passes: near 100% means the server keeps the
        # engine busy (it is not the bottleneck).
        "worker_busy": delta(after, before, "bge_inference_seconds_sum") / elapsed,
    }
    if clients == 1:  # one request per forward pass: the rest of the server's time is its overhead
        server = delta(after, before, "bge_request_duration_seconds_sum") / n
        tokenize = delta(after, before, "bge_tokenize_seconds_sum") / n
        queue = delta(after, before, "bge_queue_seconds_sum") / n
        row["server_overhead_us"] = (server - tokenize - queue - forward) * 1e6
        row["overhead_share"] = (server - tokenize - queue - forward) / forward
    return row


def engine_rate(args, batch):
    """Inputs per second of `bge bench` embedding `batch` inputs of --tokens tokens per call (the same dense output)."""
    cmd = [args.bge, "bench", "--model", args.model, "--tokens", str(args.tokens), "--batch", str(batch),
           "--iterations", str(max(1, 8 // batch)), "--warmup", "1" if batch * args.tokens <= 1024 else "0"]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return batch / (result["median_ms"] * 1e-3)


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bge", default=os.path.join(ROOT, "build", "bge"))
    p.add_argument("--model", default=os.path.join(ROOT, "tests", "golden", "m3"))
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--levels", default="1,8,64")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--max-wait-us", type=int, default=2000)
    p.add_argument("--peer", action="store_true", help="also time `bge bench` at each level's batch")
    args = p.parse_args()
    proc, port = start_server(args)
    try:
        body = json.dumps({"input": [token_ids(port, args.tokens)]}).encode()
        rows = []
        for c in args.levels.split(","):
            rows.append(await level(port, proc.pid, "/v1/embeddings", body, int(c), args.seconds))
            if args.peer:  # right after its level, while the server idles: both see the same machine load
                rows[-1]["engine_inputs_per_s"] = engine_rate(args, int(c))
    finally:
        serve_client.stop_server(proc)
    print(f"model {args.model}, /v1/embeddings, one {args.tokens}-token input per request, {args.seconds:g} s per level\n")
    print("| clients | req/s | p50 ms | p99 ms | batch fill | worker busy | server CPU ms/req | forward ms "
          "| server overhead µs/req | overhead / forward |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['clients']} | {r['rps']:.2f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['batch_fill']:.2f} | "
              f"{100 * r['worker_busy']:.0f}% | {r['cpu_ms_per_request']:.2f} | {r['forward_ms']:.2f} | " +
              (f"{r['server_overhead_us']:.0f} | {100 * r['overhead_share']:.2f}% |" if "overhead_share" in r
               else "- | - |"))
    if args.peer:
        print("\n| clients = batch | engine inputs/s (`bge bench`) | server req/s | server / engine |")
        print("|---|---|---|---|")
        for r in rows:
            print(f"| {r['clients']} | {r['engine_inputs_per_s']:.2f} | {r['rps']:.2f} | "
                  f"{100 * r['rps'] / r['engine_inputs_per_s']:.0f}% |")
    print(json.dumps({"model": args.model, "tokens": args.tokens, "levels": rows}))


if __name__ == "__main__":
    asyncio.run(main())
