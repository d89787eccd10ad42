#!/usr/bin/env python3
"""Where a CPU forward's time goes: oneDNN's primitives (the GEMMs; int8's GELU) against the whole bge call.

Runs `bge bench` with ONEDNN_VERBOSE=1 and sums the execution times oneDNN prints per primitive kind, per call
(timed calls plus the warm-up); the rest of the call is the engine's own code (attention, LayerNorms, conversions,
quantization, heads, tokenizing). Weight reorders (made at load) are reported apart.

usage: bench/cpu_breakdown.py --bge build/bge [--threads 2 16] [--dtypes fp32 bf16 int8] [--batches 1 32]
       [--tokens 128] [--model DIR | default: --random-weights bge-m3]
Prints one table row per (threads, dtype, batch). Pin the cores yourself (taskset) for comparable figures. Meant for
full-size models: on toy ones oneDNN's per-primitive timing overhead exceeds the work and the rest goes negative.
"""
import argparse
import collections
import json
import os
import subprocess
import sys


def run(args, threads, dtype, batch):
    iterations = 8 if batch == 1 else 2
    source = ["--model", args.model] if args.model else ["--random-weights", "bge-m3"]
    cmd = [args.bge, "bench", *source, "--device", "cpu", "--dtype", dtype, "--threads", str(threads),
           "--tokens", str(args.tokens), "--batch", str(batch), "--iterations", str(iterations), "--warmup", "1",
           "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                          env={**os.environ, "ONEDNN_VERBOSE": "1"})
    if proc.returncode != 0:
        sys.exit(f"cpu_breakdown: {' '.join(cmd)} failed: {proc.stderr.strip()[-500:]}")
    kinds = collections.Counter()
    median_ms = None
    for line in proc.stdout.splitlines():
        if line.startswith("onednn_verbose,exec,cpu,"):
            fields = line.split(",")
            try:
                kinds[fields[3]] += float(fields[-1])
            except ValueError:
                continue
        elif line.startswith("{"):
            median_ms = json.loads(line)["median_ms"]
    if median_ms is None:
        sys.exit("cpu_breakdown: no JSON line from bge bench")
    calls = iterations + 1
    reorders = kinds.pop("reorder", 0.0)
    gemm = kinds.pop("matmul", 0.0) / calls
    gelu = kinds.pop("eltwise", 0.0) / calls
    other = sum(kinds.values()) / calls
    rest = median_ms - gemm - gelu - other
    print(f"| {threads} | {dtype} | {batch} | {median_ms:.1f} | {gemm:.1f} | {gelu:.1f} | {other:.1f} | {rest:.1f} | "
          f"{100 * rest / median_ms:.0f}% | {reorders:.0f} |", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bge", required=True)
    p.add_argument("--model")
    p.add_argument("--threads", type=int, nargs="+", default=[2, 16])
    p.add_argument("--dtypes", nargs="+", default=["fp32", "bf16", "int8"])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    p.add_argument("--tokens", type=int, default=128)
    args = p.parse_args()
    print("| threads | dtype | batch | call ms | GEMMs ms | eltwise ms | other primitives ms | rest ms | rest share |"
          " load reorders ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for threads in args.threads:
        for dtype in args.dtypes:
            for batch in args.batches:
                run(args, threads, dtype, batch)


if __name__ == "__main__":
    main()
