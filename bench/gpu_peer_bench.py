"""The deployment guides' GPU tables for `bge bench --device cuda`, beside its peers, in one run on one GPU.

Usage: python3 bench/gpu_peer_bench.py --model DIR [--reranker DIR] --bge BIN [--json OUT] [--png OUT]
                                       [--no-compile]
Peers: transformers fp16 with SDPA attention (inputs padded to the batch's longest, what a transformers deployment
does) and, on the shapes marked below, the same model under torch.compile (default mode; batch 1 also with CUDA
graphs, mode="reduce-overhead"). bge: `bge bench --device cuda --dtype fp16`, one process per table, whole `embed`
/ `rerank` calls (tokenizing on the CPU and the copies back included; transformers is given ids made in advance).
Ratios are peer time / bge time (> 1: bge is faster). Tables:
  latency, batch 1, 16..8192 tokens; throughput at 512 tokens, batch 1..128, and at 128 tokens, batch 1..256;
  peak memory at 2048 x 32; a mixed corpus (2048 texts, 16..512 tokens uniform); reranker pairs/s for 100 pairs
  of 128 and 512 tokens at batches 1..64 (transformers: forwards of that many pairs; bge: calls of that many).
Memory: transformers' peak allocated bytes; bge's weights and workspaces (all it allocates, sized by
--max-batch-tokens). Neither counts the CUDA context. Times: CUDA-event medians (peers), bge bench's medians.
Writes JSON (--json) and the latency and throughput curves (--png, matplotlib).
"""
import argparse
import json
import random
import subprocess

import torch
from transformers import AutoModel, AutoModelForSequenceClassification

LATENCY = [16, 128, 256, 512, 1024, 2048, 4096, 8192]
BATCH_512 = [1, 2, 4, 8, 16, 32, 64, 128]
BATCH_128 = [1, 8, 32, 64, 128, 256]
RERANK_BATCH = [1, 2, 4, 8, 16, 32, 64]


def time_ms(fn, warmup=3, iters=10):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def random_ids(batch, length, vocab):
    ids = torch.randint(4, vocab - 1, (batch, length), device="cuda")
    ids[:, 0], ids[:, -1] = 0, 2
    return ids


def peer(model, tokens, batch, vocab):
    ids = random_ids(batch, tokens, vocab)
    torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        ms = time_ms(lambda: model(input_ids=ids))
    return ms, torch.cuda.max_memory_allocated()


def compiled_peer(model, tokens, batch, vocab, mode):
    """ms of torch.compile(model, mode) on one shape, or None where compiling fails."""
    try:
        fn = torch.compile(model, mode=mode, dynamic=False)
        ids = random_ids(batch, tokens, vocab)
        with torch.no_grad():
            return time_ms(lambda: fn(input_ids=ids), warmup=5)
    except Exception as e:  # a compile failure is reported, not fatal to the other tables
        print(f"torch.compile {mode} {tokens}x{batch}: {str(e)[:100]}")
        return None


def bge_bench(binary, model_dir, tokens, batches, max_batch_tokens=None, mixed=0):
    """bge bench's JSON rows (one per shape), or [] and the error."""
    tokens, batches = list(tokens), list(batches)
    budget = max_batch_tokens or max(8192, max(tokens) * max(batches))
    cmd = [binary, "bench", "--model", model_dir, "--device", "cuda", "--dtype", "fp16", "--quiet", "--tokens",
           ",".join(map(str, tokens)), "--iterations", "10", "--warmup", "3", "--max-batch-tokens", str(budget)]
    cmd += ["--mixed", str(mixed)] if mixed else ["--batch", ",".join(map(str, batches))]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return [], out.stderr.strip()
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")], ""


def embed_table(name, model, vocab, args, shapes, compiled_shapes):
    """shapes: (tokens, batch) pairs; compiled_shapes: (tokens, batch) -> torch.compile mode for those also run
    compiled. Returns rows with the peer, compiled and bge figures."""
    tokens = sorted({t for t, _ in shapes})
    batches = sorted({b for _, b in shapes})
    ours, err = bge_bench(args.bge, args.model, tokens, batches)
    by_shape = {(r["tokens"], r["batch"]): r for r in ours}
    print(f"\n{name}\n| tokens | batch | transformers ms | compiled ms | bge ms | bge tokens/s | vs transformers | "
          f"vs compiled | transformers MB | bge MB |\n|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for tokens, batch in shapes:
        ms, peak = peer(model, tokens, batch, vocab)
        mode = compiled_shapes.get((tokens, batch))
        compiled = compiled_peer(model, tokens, batch, vocab, mode) if mode else None
        b = by_shape.get((tokens, batch))
        rows.append({"tokens": tokens, "batch": batch, "peer_ms": ms, "peer_peak_bytes": peak, "compiled_ms": compiled,
                     "bge": b, "error": err})
        if b is None:
            print(f"| {tokens} | {batch} | {ms:.2f} | | {err[:80]} |", flush=True)
            continue
        c = f"{compiled:.2f}" if compiled else ""
        vc = f"{compiled / b['median_ms']:.2f}x" if compiled else ""
        print(f"| {tokens} | {batch} | {ms:.2f} | {c} | {b['median_ms']:.2f} | {b['tokens_per_s']:.0f} | "
              f"{ms / b['median_ms']:.2f}x | {vc} | {peak / 2**20:.0f} | {b['model_memory_bytes'] / 2**20:.0f} |",
              flush=True)
    return rows


def mixed_corpus(model, vocab, n=2048, batch=64):
    rng = random.Random(0)
    lengths = sorted((rng.randint(16, 512) for _ in range(n)), reverse=True)
    batches = []
    for i in range(0, n, batch):
        part = lengths[i:i + batch]
        ids = torch.ones(len(part), part[0], dtype=torch.long, device="cuda")
        mask = torch.zeros_like(ids)
        for r, length in enumerate(part):
            ids[r, :length] = random_ids(1, length, vocab)[0]
            mask[r, :length] = 1
        batches.append((ids, mask))

    def run():
        for ids, mask in batches:
            model(input_ids=ids, attention_mask=mask)
    with torch.no_grad():
        ms = time_ms(run, warmup=1, iters=3)
    return sum(lengths) / (ms / 1000)


def reranker_tables(args, vocab):
    rr = AutoModelForSequenceClassification.from_pretrained(args.reranker, dtype=torch.float16,
                                                            attn_implementation="sdpa").cuda().eval()
    rows = []
    for tokens in (128, 512):
        print(f"\nreranker, 100 pairs of {tokens} tokens\n| forward batch | transformers pairs/s | bge pairs/s | "
              f"ratio |\n|---|---|---|---|")
        ours, err = bge_bench(args.bge, args.reranker, [tokens], RERANK_BATCH)
        by_batch = {r["batch"]: r for r in ours}
        for batch in RERANK_BATCH:
            calls = [random_ids(min(batch, 100 - i), tokens, vocab) for i in range(0, 100, batch)]
            with torch.no_grad():
                ms = time_ms(lambda: [rr(input_ids=ids) for ids in calls], warmup=1, iters=5)
            peer_rate = 100 / ms * 1000
            b = by_batch.get(batch)
            rate = batch / b["median_ms"] * 1000 if b else float("nan")  # calls of `batch` pairs, back to back
            rows.append({"tokens": tokens, "batch": batch, "peer_pairs_per_s": peer_rate, "bge_pairs_per_s": rate,
                         "bge": b, "error": err})
            print(f"| {batch} | {peer_rate:.0f} | {rate:.0f} | {rate / peer_rate:.2f}x | {err[:60]}", flush=True)
        here = [r for r in rows if r["tokens"] == tokens]
        best_peer = max(here, key=lambda r: r["peer_pairs_per_s"])
        best = max(here, key=lambda r: r["bge_pairs_per_s"])
        print(f"best: bge {best['bge_pairs_per_s']:.0f} pairs/s at batch {best['batch']} (recommended), "
              f"transformers {best_peer['peer_pairs_per_s']:.0f} at batch {best_peer['batch']}: "
              f"{best['bge_pairs_per_s'] / best_peer['peer_pairs_per_s']:.2f}x")
    return rows


def draw(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    lat = results["latency"]
    a.plot([r["tokens"] for r in lat], [r["peer_ms"] for r in lat], "o-", label="transformers fp16 SDPA")
    a.plot([r["tokens"] for r in lat if r["bge"]], [r["bge"]["median_ms"] for r in lat if r["bge"]], "o-",
           label="bge.cpp fp16")
    a.set(xscale="log", yscale="log", xlabel="tokens (batch 1)", ylabel="ms per call", title="latency")
    for key, label in (("throughput_512", "512 tokens"), ("throughput_128", "128 tokens")):
        rows = results[key]
        b.plot([r["batch"] for r in rows], [r["tokens"] * r["batch"] / r["peer_ms"] * 1e3 for r in rows], "o--",
               label=f"transformers, {label}")
        b.plot([r["batch"] for r in rows if r["bge"]], [r["bge"]["tokens_per_s"] for r in rows if r["bge"]], "o-",
               label=f"bge.cpp, {label}")
    b.set(xscale="log", xlabel="batch", ylabel="tokens/s", title="throughput")
    for ax in (a, b):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"BGE-M3 shape, {torch.cuda.get_device_name()}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--reranker")
    ap.add_argument("--bge", required=True)
    ap.add_argument("--json")
    ap.add_argument("--png")
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    model = AutoModel.from_pretrained(args.model, dtype=torch.float16, attn_implementation="sdpa").cuda().eval()
    vocab = model.config.vocab_size
    print(f"GPU: {torch.cuda.get_device_name()}; transformers fp16 SDPA (and torch.compile) vs bge fp16", flush=True)
    # torch.compile on a few shapes (each compile takes tens of seconds): batch 1 with CUDA graphs, batch 32 without.
    compiled = {} if args.no_compile else {(128, 1): "reduce-overhead", (512, 1): "reduce-overhead",
                                           (512, 32): "default"}
    results = {
        "latency": embed_table("latency, batch 1", model, vocab, args, [(t, 1) for t in LATENCY], compiled),
        "throughput_512": embed_table("throughput, 512 tokens", model, vocab, args, [(512, b) for b in BATCH_512],
                                      compiled),
        "throughput_128": embed_table("throughput, 128 tokens", model, vocab, args, [(128, b) for b in BATCH_128],
                                      compiled),
        "memory_2048x32": embed_table("peak memory, 2048 x 32", model, vocab, args, [(2048, 32)], {}),
    }
    mixed = mixed_corpus(model, vocab)
    ours, err = bge_bench(args.bge, args.model, [512], [0], max_batch_tokens=32768, mixed=2048)
    line = f"\nmixed 16-512 corpus, 2048 texts: transformers {mixed:.0f} real tokens/s (padded batches of 64)"
    if ours:
        line += (f"; bge {ours[0]['tokens_per_s']:.0f} ({ours[0]['real_tokens']} real tokens, "
                 f"{ours[0]['median_ms']:.1f} ms): {ours[0]['tokens_per_s'] / mixed:.2f}x")
    print(line + (f" {err[:80]}" if err else ""), flush=True)
    results["mixed"] = {"peer_real_tokens_per_s": mixed, "bge": ours[0] if ours else None}
    if args.reranker:
        results["reranker"] = reranker_tables(args, vocab)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.png:
        draw(results, args.png)


if __name__ == "__main__":
    main()
