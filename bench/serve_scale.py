"""Multi-device load benchmark of `bge serve`: how throughput scales with the workers of --device, and what a
worker's failure costs. It starts the server itself once per --devices spec (`--device SPEC`, one worker per entry)
and, per spec and workload:
- saturation: a closed loop of --clients keep-alive clients for --seconds: tokens/s (real tokens sent, <s> and </s>
  counted), requests/s, p50/p99 latency, and each worker's share of the tokens (bge_worker_tokens_total deltas);
- half load: an open loop of Poisson arrivals at half that spec's saturation request rate for --seconds: p50/p99
  latency, timed from each request's scheduled arrival.
Workloads (POST /v1/embeddings, token-id inputs, base64 vectors): `512x32`, requests of 32 distinct inputs of 512
tokens; `mixed`, a corpus of 2048 inputs of 16..512 tokens (uniform, fixed seed) sent 32 per request. A model whose
inputs are shorter (the tiny default holds 128) caps the lengths at its limit, and the table says so.

--fail-worker I@N adds a phase per multi-worker spec and workload: references first (each distinct request sent
alone to the healthy server), then the server restarted with BGE_TEST_FAIL_WORKER=I@N under the saturation load;
every response is checked against the references (dense cosine >= 0.999 with its own, and its own is the best match
of all), and the table counts lost (non-200, dropped connections) and wrong vectors, tokens/s before and after the
failure (when bge_worker_healthy of worker I drops to 0 or its failures count rises, polled every 100 ms) and /health
after. The phase keeps every response until its window ends (checked after it, so that checking does not slow the
clients). Metrics a server lacks (no per-worker series) print as n/a; a spec the server refuses is reported, not fatal.

How to run: build bge (CUDA for GPU specs), then e.g.
  python3 bench/serve_scale.py --bge build/bge --model /models/bge-m3 --devices cuda:0 cuda:0,1 cuda \\
      --seconds 20 --fail-worker 1@50
The first spec that the server accepts is the baseline of the `vs first` column. A quick check on a CPU-only build:
  python3 bench/serve_scale.py --bge build/bge --devices cpu cpu,cpu --seconds 2 --clients 8 --fail-worker 1@3
Needs numpy (bench/requirements.txt). Prints Markdown tables and one JSON line.
"""
import argparse
import asyncio
import base64
import itertools
import json
import os
import random
import time

import numpy as np

import serve_client
from serve_client import Connection, ServerRefused, metrics, parse_metrics, series

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PER_REQUEST = 32
DISTINCT_512 = 16  # distinct requests of the 512x32 workload; the clients cycle through them
MIXED_CORPUS = 2048
DROPPED = (OSError, asyncio.IncompleteReadError)
TEXT = ("The quick brown fox jumps over the lazy dog near Deutschland Россия 日本 中国 한국어 français español "
        "português Nederlands Polski Türkçe العربية हिन्दी ไทย Việt 0123456789 embedding retrieval server worker")


def server_args(args, spec):
    # Room in the queue for every client's request: the load, not admission control, sets the rate.
    extra = ["--device", spec, "--max-queue", str(max(4096, 2 * args.clients * PER_REQUEST))]
    for flag, value in (("--dtype", args.dtype), ("--max-batch-tokens", args.max_batch_tokens),
                        ("--threads", args.threads)):
        if value:
            extra += [flag, str(value)]
    return extra


class Workload:
    """Distinct requests (JSON bodies), the real tokens of each (<s> and </s> counted) and their inputs' ids."""

    def __init__(self, name, inputs, note):
        self.name, self.note = name, note
        self.inputs = [inputs[i:i + PER_REQUEST] for i in range(0, len(inputs), PER_REQUEST)]
        self.bodies = [json.dumps({"input": r, "encoding_format": "base64"}).encode() for r in self.inputs]
        self.tokens = [sum(len(ids) + 2 for ids in r) for r in self.inputs]


def make_workloads(port, max_length):
    pool = sorted(set(serve_client.tokenize(port, " ".join(f"{w}{i}" for i, w in enumerate(TEXT.split() * 4))))
                  - {0, 1, 2, 3})  # <s> <pad> </s> <unk>
    rng = random.Random(2026)
    cap = min(512, max_length)
    capped = "" if cap == 512 else f" (capped at the model's {cap} tokens)"
    seen = set()

    def distinct(n):  # ids of an input of n tokens, unlike every earlier one
        while True:
            ids = tuple(rng.choice(pool) for _ in range(n - 2))
            if ids not in seen:
                seen.add(ids)
                return list(ids)

    fixed = [distinct(cap) for _ in range(DISTINCT_512 * PER_REQUEST)]
    mixed = [distinct(rng.randint(16, cap)) for _ in range(MIXED_CORPUS)]
    return [Workload("512x32", fixed, f"{PER_REQUEST} x {cap} tokens" + capped),
            Workload("mixed", mixed, f"{MIXED_CORPUS} inputs of 16..{cap} tokens" + capped)]


def latency_ms(seconds):
    """p50 and p99 in ms (None without samples)."""
    v = sorted(seconds)

    def at(q):
        return v[min(len(v) - 1, int(len(v) * q))] * 1e3 if v else None

    return {"p50_ms": at(0.5), "p99_ms": at(0.99)}


def embedder_series(m, name):
    """{worker index: (device, value)} of the embedder's per-worker series `name`."""
    return {int(l["worker"]): (l.get("device", "?"), v) for l, v in series(m, name)
            if "worker" in l and l.get("model", "embedder") == "embedder"}


def worker_shares(before, after):
    """[{worker, device, tokens, share}] over a window, or None when the server has no per-worker series."""
    b, a = embedder_series(before, "bge_worker_tokens_total"), embedder_series(after, "bge_worker_tokens_total")
    if not a:
        return None
    d = {w: a[w][1] - b.get(w, (None, 0))[1] for w in a}
    total = sum(d.values()) or 1
    return [{"worker": w, "device": a[w][0], "tokens": d[w], "share": d[w] / total} for w in sorted(d)]


async def closed_loop(port, wl, clients, seconds, keep=False):
    """Each client sends one untimed request, then requests back to back for `seconds` (the ones in flight at the
    end are waited for and counted); requests cycle through wl's. A dropped connection is logged (status 0) and
    reopened. Returns the log [(done time, request, status, latency, timed, body if keep)], the window's start and
    end, and /metrics before and after it."""
    log, window, counter = [], {}, itertools.count()
    ready, go = asyncio.Barrier(clients + 1), asyncio.Event()

    async def client():
        conn = None

        async def one(timed):
            nonlocal conn
            k = next(counter) % len(wl.bodies)
            start = time.perf_counter()
            try:
                conn = conn or await Connection.open(port)
                status, body = await conn.post("/v1/embeddings", wl.bodies[k])
            except DROPPED:
                status, body, conn = 0, b"", None
            done = time.perf_counter()
            log.append((done, k, status, done - start, timed, body if keep else None))

        try:
            await one(False)  # untimed: the timed window starts with every client in step
        except BaseException:
            await ready.abort()
            raise
        await ready.wait()
        await go.wait()
        while time.perf_counter() < window["end"]:
            await one(True)
        if conn:
            conn.close()

    tasks = asyncio.gather(*(client() for _ in range(clients)))
    await ready.wait()
    before = metrics(port)
    start = time.perf_counter()
    window["end"] = start + seconds
    go.set()
    await tasks
    return log, start, time.perf_counter(), before, metrics(port)


async def saturation(port, wl, clients, seconds):
    log, start, end, before, after = await closed_loop(port, wl, clients, seconds)
    ok = [e for e in log if e[4] and e[2] == 200]
    lat = [e[3] for e in ok]
    return {"requests": len(ok), "errors": sum(1 for e in log if e[4] and e[2] != 200),
            "tokens_per_s": sum(wl.tokens[e[1]] for e in ok) / (end - start), "rps": len(ok) / (end - start),
            **latency_ms(lat), "workers": worker_shares(before, after)}


async def open_loop(port, wl, rate, seconds, connections):
    """Poisson arrivals at `rate` requests/s for `seconds`, each on an idle keep-alive connection (a new one when
    none is idle); latency from the scheduled arrival, so that a late client does not hide queueing."""
    idle = [await Connection.open(port) for _ in range(connections)]
    rng, lat, errors, tasks = random.Random(7), [], [0], []

    async def one(due, k):
        conn = idle.pop() if idle else await Connection.open(port)
        try:
            status, _ = await conn.post("/v1/embeddings", wl.bodies[k])
        except DROPPED:
            errors[0] += 1
            return
        idle.append(conn)
        if status == 200:
            lat.append(time.perf_counter() - due)
        else:
            errors[0] += 1

    start = due = time.perf_counter()
    for k in itertools.count():
        due += rng.expovariate(rate)
        if due >= start + seconds:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(due, k % len(wl.bodies))))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return {"rate": rate, "requests": len(lat), "errors": errors[0], **latency_ms(lat)}


def dense(body):
    """The response's dense vectors, normalized: float32 [inputs, dim]."""
    data = sorted(json.loads(body)["data"], key=lambda d: d["index"])
    v = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), "<f4") for d in data])
    with np.errstate(invalid="ignore", divide="ignore"):  # a zero vector turns NaN and fails every check
        return v / np.linalg.norm(v, axis=1, keepdims=True)


async def references(port, wl):
    """Each distinct request sent alone: float32 [all inputs, dim], row r * 32 + i for request r's input i."""
    conn, rows = await Connection.open(port), []
    for body in wl.bodies:
        status, answer = await conn.post("/v1/embeddings", body)
        if status != 200:
            raise RuntimeError(f"reference request: HTTP {status}: {answer[:200]}")
        rows.append(dense(answer))
    conn.close()
    return np.concatenate(rows)


def wrong_inputs(body, k, refs):
    """Inputs of request k's response that are not their own reference (cos < 0.999, or closer to another)."""
    first = k * PER_REQUEST
    expected = min(PER_REQUEST, len(refs) - first)
    try:
        v = dense(body)
    except (ValueError, KeyError, TypeError):
        return expected
    if v.shape != (expected, refs.shape[1]):
        return expected
    sims = v @ refs.T  # [inputs, all references]
    own = np.arange(first, first + expected)
    return int(np.sum(~(sims[np.arange(expected), own] >= 0.999) | (sims.argmax(axis=1) != own)))  # NaN: wrong


async def fail_phase(args, spec, wl, refs):
    worker = int(args.fail_worker.split("@")[0])
    env = dict(os.environ, BGE_TEST_FAIL_WORKER=args.fail_worker)
    try:
        proc, port = serve_client.start_server(args.bge, args.model, server_args(args, spec), env)
    except ServerRefused as e:
        return {"refused": str(e)}
    try:
        seen, stop = {}, asyncio.Event()

        async def poll():  # the failure time: worker's healthy gauge drops to 0 or its failure count rises
            conn = None
            while not stop.is_set():
                try:
                    conn = conn or await Connection.open(port)
                    m = parse_metrics((await conn.request("GET", "/metrics"))[1].decode())
                except DROPPED:
                    conn, m = None, {}
                healthy = embedder_series(m, "bge_worker_healthy").get(worker)
                failures = embedder_series(m, "bge_worker_failures_total").get(worker)
                if "t" not in seen and ((healthy and healthy[1] == 0) or (failures and failures[1] > 0)):
                    seen["t"] = time.perf_counter()
                seen["series"] = seen.get("series") or bool(embedder_series(m, "bge_worker_healthy"))
                try:
                    await asyncio.wait_for(stop.wait(), 0.1)
                except asyncio.TimeoutError:
                    pass
            if conn:
                conn.close()

        poller = asyncio.create_task(poll())
        log, start, end, _, after = await closed_loop(port, wl, args.clients, args.seconds, keep=True)
        stop.set()
        await poller
        health_code, health_body = serve_client.get(port, "/health")
    finally:
        serve_client.stop_server(proc)
    try:
        health = json.loads(health_body).get("status", health_body.decode()[:80])
    except ValueError:
        health = health_body.decode()[:80]
    ok = [e for e in log if e[2] == 200]
    t = seen.get("t")

    def rate(lo, hi):  # tokens/s of the timed 200s done in (lo, hi]
        if hi - lo <= 0:
            return None
        return sum(wl.tokens[e[1]] for e in ok if e[4] and lo < e[0] <= hi) / (hi - lo)

    return {"fail": args.fail_worker, "responses": len(log), "lost": len(log) - len(ok),
            "wrong": sum(wrong_inputs(e[5], e[1], refs) for e in ok), "inputs": sum(len(wl.inputs[e[1]]) for e in ok),
            "failed_at_s": None if t is None else t - start, "metrics": bool(seen.get("series")),
            "tokens_per_s_before": rate(start, t) if t is not None and t > start else None,
            "tokens_per_s_after": rate(max(t, start), end) if t is not None else None,
            "tokens_per_s": rate(start, end), "health": f"{health_code} {health}",
            "failures": {w: v for w, (_, v) in embedder_series(after, "bge_worker_failures_total").items()}}


def n_workers(m, spec):
    """Workers of the embedder: from the per-worker series, else the entries of the spec (None for bare `cuda`)."""
    workers = embedder_series(m, "bge_worker_healthy")
    if workers:
        return len(workers)
    return None if spec == "cuda" else len(spec.split(","))


async def run_spec(args, spec, state):
    out = {"spec": spec, "workloads": {}}
    try:
        proc, port = serve_client.start_server(args.bge, args.model, server_args(args, spec))
    except ServerRefused as e:
        out["refused"] = str(e)
        print(f"{spec}: n/a, the server refused it: {e}", flush=True)
        return out
    refs = {}
    try:
        if "workloads" not in state:
            info = json.loads(serve_client.get(port, "/info")[1])
            state["workloads"] = make_workloads(port, int(info.get("max_input_length", 512)))
        out["workers"] = n_workers(metrics(port), spec)
        multi = (out["workers"] or 1) > 1
        for wl in state["workloads"]:
            if args.fail_worker and multi:
                refs[wl.name] = await references(port, wl)
            sat = await saturation(port, wl, args.clients, args.seconds)
            half = await open_loop(port, wl, sat["rps"] / 2, args.seconds, args.clients) if sat["rps"] else None
            out["workloads"][wl.name] = {"saturation": sat, "half_load": half}
            print(f"{spec} {wl.name}: {sat['tokens_per_s']:.0f} tokens/s, {sat['rps']:.2f} req/s", flush=True)
    finally:
        serve_client.stop_server(proc)
    for wl in state["workloads"]:
        if wl.name in refs:
            out["workloads"][wl.name]["failure"] = await fail_phase(args, spec, wl, refs[wl.name])
    return out


def fmt(v, spec=".0f"):
    return "n/a" if v is None else format(v, spec)


def print_tables(args, results, workloads):
    print(f"\nmodel {args.model}, {args.clients} clients, {args.seconds:g} s per phase, POST /v1/embeddings "
          f"(token ids, base64); workloads: " + "; ".join(f"{w.name} = {w.note}" for w in workloads) + "\n")
    print("| devices | workers | workload | sat. tokens/s | vs first | sat. req/s | sat. p50 ms | sat. p99 ms "
          "| half-load p50 ms | half-load p99 ms | non-200 (sat., half) | worker token shares |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    first = {}
    for r in results:
        if "refused" in r:
            print(f"| {r['spec']} | n/a | all | n/a (refused) | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |")
            continue
        for name, w in r["workloads"].items():
            s, h = w["saturation"], w["half_load"] or {}
            first.setdefault(name, s["tokens_per_s"])
            shares = " · ".join(f"{x['worker']} {x['device']} {100 * x['share']:.0f}%" for x in s["workers"]) \
                if s["workers"] else "n/a"
            ratio = s["tokens_per_s"] / first[name] if first[name] else None
            print(f"| {r['spec']} | {fmt(r['workers'], 'd')} | {name} | {s['tokens_per_s']:.0f} | {fmt(ratio, '.2f')} "
                  f"| {s['rps']:.2f} | {fmt(s['p50_ms'], '.1f')} | {fmt(s['p99_ms'], '.1f')} "
                  f"| {fmt(h.get('p50_ms'), '.1f')} | {fmt(h.get('p99_ms'), '.1f')} "
                  f"| {s['errors']}, {fmt(h.get('errors'), 'd')} | {shares} |")
    fails = [(r["spec"], n, w["failure"]) for r in results for n, w in r.get("workloads", {}).items()
             if "failure" in w]
    if args.fail_worker:
        print(f"\nworker failure (BGE_TEST_FAIL_WORKER={args.fail_worker}), saturation load; failed at: seconds "
              "into the timed window\n")
        print("| devices | workload | responses | lost | wrong inputs | failed at s | tokens/s before | tokens/s after "
              "| tokens/s whole window | /health after |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for spec, name, f in fails:
            if "refused" in f:
                print(f"| {spec} | {name} | n/a (refused) | | | | | | | |")
                continue
            failed = fmt(f["failed_at_s"], ".2f") if f["metrics"] else "n/a (no per-worker series)"
            if f["metrics"] and f["failed_at_s"] is None:
                failed = "not seen"
            print(f"| {spec} | {name} | {f['responses']} | {f['lost']} | {f['wrong']} of {f['inputs']} | {failed} "
                  f"| {fmt(f['tokens_per_s_before'])} | {fmt(f['tokens_per_s_after'])} | {fmt(f['tokens_per_s'])} "
                  f"| {f['health']} |")
        if not fails:
            print("| n/a: no spec served several workers | | | | | | | | | |")


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bge", default=os.path.join(ROOT, "build", "bge"))
    p.add_argument("--model", default=os.path.join(ROOT, "tests", "golden", "m3"))
    p.add_argument("--devices", nargs="+", default=["cpu"], help="--device specs, one server each, e.g. cuda:0 cuda")
    p.add_argument("--dtype", default="")
    p.add_argument("--max-batch-tokens", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--fail-worker", default="", metavar="I@N", help="worker I fails from its N-th batch on")
    args = p.parse_args()
    if args.fail_worker:
        i, _, n = args.fail_worker.partition("@")
        if not (i.isdigit() and n.isdigit() and int(n) >= 1):
            p.error("--fail-worker takes I@N with N >= 1")
    state, results = {}, []
    for spec in args.devices:
        results.append(await run_spec(args, spec, state))
    print_tables(args, results, state.get("workloads", []))
    print(json.dumps({"model": args.model, "dtype": args.dtype, "clients": args.clients, "seconds": args.seconds,
                      "workloads": {w.name: {"requests": len(w.bodies), "tokens": sum(w.tokens), "note": w.note}
                                    for w in state.get("workloads", [])}, "specs": results}))


if __name__ == "__main__":
    asyncio.run(main())
