"""The transformers peer of `bge bench --device cuda`: the same shapes, the same model folder, the same GPU, run.

Usage: python3 bench/gpu_peer_bench.py --model DIR [--reranker DIR] [--bge BIN] [--json OUT]
transformers fp16 with SDPA attention, inputs padded to the batch's longest (what a transformers deployment does).
With --bge, runs `bge bench --device cuda --dtype fp16` on each shape too and prints the speed ratio
transformers time / bge time, end to end (bge's call includes tokenizing on one CPU thread and the copies back) and
for the engine alone (bge's median minus its tokenize time; transformers is given ids, so this is the like-for-like
ratio). Times: CUDA events (transformers), bge bench's medians. Memory: transformers' peak allocated bytes; bge's
weights and workspaces (all it allocates; sized by --max-batch-tokens = tokens x batch here). Neither counts the
CUDA context.
"""
import argparse
import json
import random
import subprocess

import torch
from transformers import AutoModel, AutoModelForSequenceClassification

SHAPES = [(128, 1), (512, 1), (8192, 1), (512, 32), (128, 256), (2048, 32)]  # (tokens, batch)


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


def sdpa_attention_table():
    """torch SDPA's flash and cuDNN kernels on bge_cuda_ops_bench's shapes (fp16, 16 heads x 64), TFLOP/s."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    print("| tokens x batch | torch flash TFLOP/s | cuDNN SDPA TFLOP/s |")
    print("|---|---|---|")
    out = []
    for tokens, batch in ((8192, 1), (2048, 32), (512, 32), (128, 256)):
        q, k, v = (torch.randn(batch, 16, tokens, 64, device="cuda", dtype=torch.float16) for _ in range(3))
        flops = 4.0 * tokens * tokens * 1024 * batch
        row = {"tokens": tokens, "batch": batch}
        for name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            try:
                with sdpa_kernel(backend), torch.no_grad():
                    ms = time_ms(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v))
                row[name] = flops / (ms * 1e-3) / 1e12
            except RuntimeError as e:
                row[name] = float("nan")
                print(f"{name}: {str(e)[:80]}")
        out.append(row)
        print(f"| {tokens} x {batch} | {row['flash']:.1f} | {row['cudnn']:.1f} |", flush=True)
    return out


def bge_bench(binary, model_dir, tokens, batch, mixed=0):
    """bge bench's JSON (median_ms, tokenize_ms, real_tokens, ...), or None and the error."""
    extra = ["--mixed", str(mixed), "--max-batch-tokens", "32768"] if mixed else [
        "--batch", str(batch), "--max-batch-tokens", str(max(8192, tokens * batch))]
    out = subprocess.run([binary, "bench", "--model", model_dir, "--device", "cuda", "--dtype", "fp16", "--quiet",
                          "--tokens", str(tokens), "--iterations", "10", "--warmup", "3"] + extra,
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip()
    return json.loads(out.stdout.strip().splitlines()[-1]), ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--reranker")
    ap.add_argument("--bge")
    ap.add_argument("--json")
    args = ap.parse_args()
    model = AutoModel.from_pretrained(args.model, dtype=torch.float16, attn_implementation="sdpa").cuda().eval()
    vocab = model.config.vocab_size
    rows = []
    print(f"GPU: {torch.cuda.get_device_name()}; transformers fp16 SDPA vs bge fp16", flush=True)
    print("| tokens | batch | transformers ms | peak MB | bge ms | bge tokenize ms | bge engine tokens/s | "
          "ratio end-to-end | ratio engine | bge MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for tokens, batch in SHAPES:
        ms, peak = peer(model, tokens, batch, vocab)
        ours, err = bge_bench(args.bge, args.model, tokens, batch) if args.bge else (None, "")
        rows.append({"tokens": tokens, "batch": batch, "peer_ms": ms, "peer_peak_bytes": peak, "bge": ours,
                     "error": err})
        if not ours:
            print(f"| {tokens} | {batch} | {ms:.2f} | {peak / 2**20:.0f} | {err[:80]} |", flush=True)
            continue
        engine = ours["median_ms"] - ours["tokenize_ms"]
        print(f"| {tokens} | {batch} | {ms:.2f} | {peak / 2**20:.0f} | {ours['median_ms']:.2f} | "
              f"{ours['tokenize_ms']:.2f} | {tokens * batch / engine * 1000:.0f} | {ms / ours['median_ms']:.2f}x | "
              f"{ms / engine:.2f}x | {ours['model_memory_bytes'] / 2**20:.0f} |", flush=True)
    rows.append({"sdpa_attention": sdpa_attention_table()})
    mixed = mixed_corpus(model, vocab)
    ours, err = bge_bench(args.bge, args.model, 512, 0, mixed=2048) if args.bge else (None, "")
    line = f"mixed 16-512 corpus, 2048 texts: transformers {mixed:.0f} real tokens/s (padded batches of 64)"
    if ours:
        engine = ours["median_ms"] - ours["tokenize_ms"]
        line += (f"; bge {ours['tokens_per_s']:.0f} end to end ({ours['real_tokens']} real tokens, "
                 f"{ours['median_ms']:.1f} ms), {ours['real_tokens'] / engine * 1000:.0f} engine alone")
    print(line + (f" {err[:80]}" if err else ""), flush=True)
    rows.append({"mixed_real_tokens_per_s": mixed, "bge": ours})
    if args.reranker:
        rr = AutoModelForSequenceClassification.from_pretrained(args.reranker, dtype=torch.float16,
                                                                attn_implementation="sdpa").cuda().eval()
        for batch in (16, 32, 64):
            calls = [random_ids(min(batch, 100 - i), 128, vocab) for i in range(0, 100, batch)]
            with torch.no_grad():
                ms = time_ms(lambda: [rr(input_ids=ids) for ids in calls])
            ours, err = bge_bench(args.bge, args.reranker, 128, batch) if args.bge else (None, "")
            msg = f"reranker 100 pairs x 128 tokens, batch {batch}: transformers {100 / ms * 1000:.0f} pairs/s"
            if ours:
                engine = ours["median_ms"] - ours["tokenize_ms"]
                msg += (f"; bge {batch / ours['median_ms'] * 1000:.0f} pairs/s end to end, "
                        f"{batch / engine * 1000:.0f} engine alone (one call of {batch} pairs: {ours['median_ms']:.2f} ms,"
                        f" tokenizing {ours['tokenize_ms']:.2f} ms)")
            print(msg + (f" {err[:80]}" if err else ""), flush=True)
            rows.append({"reranker_batch": batch, "peer_ms_100_pairs": ms, "bge": ours})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
