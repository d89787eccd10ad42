"""CPU throughput of `bge bench` against PyTorch (transformers, fp32) in the same run, on the same model folder
and the same synthetic input.

Usage: python3 bench/cpu_vs_torch.py --bge build/bge [--model DIR] [--tokens 512] [--batch 1] [--iterations 5]
       [--threads N]
Without --model, a BGE-M3-shaped folder with random weights (24 layers, hidden 1024, 16 heads, FFN 4096, 8194
positions; test vocabulary) is generated once under /tmp/bge-bench-m3 with tools/make_test_models.py.
The peer runs XLMRobertaModel plus BGE-M3's sparse and colbert heads under torch.inference_mode with the same
thread count. Prints a Markdown table and one JSON line.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_MODEL = "/tmp/bge-bench-m3"
FULL_SIZE = ["--hidden", "1024", "--layers", "24", "--heads", "16", "--ffn", "4096", "--max-positions", "8194"]


def synthetic_text():
    """The text `bge bench` uses (src/cli/cmd_bench.cc): truncation gives the exact length asked for."""
    words = ["Deutschland", "Россия", "日本"]
    return "".join(words[i % 3] + " " for i in range(9000))


def ensure_model(path):
    if not os.path.exists(os.path.join(path, "m3", "model.safetensors")):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_test_models.py"), path, "--seed", "0",
                        "--variants", "m3", *FULL_SIZE], check=True)
    return os.path.join(path, "m3")


def run_bge(args, model):
    cmd = [args.bge, "bench", "--model", model, "--tokens", str(args.tokens), "--batch", str(args.batch),
           "--iterations", str(args.iterations), "--threads", str(args.threads), "--quiet"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_torch(args, model_dir):
    torch.set_num_threads(args.threads)
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    hidden = model.config.hidden_size
    sparse = torch.nn.Linear(hidden, 1)
    sparse.load_state_dict(torch.load(os.path.join(model_dir, "sparse_linear.pt"), weights_only=True))
    colbert = torch.nn.Linear(hidden, hidden)
    colbert.load_state_dict(torch.load(os.path.join(model_dir, "colbert_linear.pt"), weights_only=True))
    enc = tok([synthetic_text()] * args.batch, truncation=True, max_length=args.tokens, return_tensors="pt")
    assert enc["input_ids"].shape == (args.batch, args.tokens), enc["input_ids"].shape
    times = []
    with torch.inference_mode():
        for i in range(1 + args.iterations):
            start = time.perf_counter()
            h = model(**enc).last_hidden_state
            torch.nn.functional.normalize(h[:, 0], dim=-1)
            torch.relu(sparse(h))
            torch.nn.functional.normalize(colbert(h[:, 1:]), dim=-1)
            if i:
                times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    return {"median_ms": median, "min_ms": min(times), "tokens_per_s": args.batch * args.tokens / (median / 1000)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bge", required=True)
    ap.add_argument("--model")
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    model = args.model or ensure_model(BENCH_MODEL)
    bge = run_bge(args, model)
    peer = run_torch(args, model)
    ratio = bge["tokens_per_s"] / peer["tokens_per_s"]
    print(f"model {model}; {args.tokens} tokens x batch {args.batch}; {args.threads} threads; "
          f"torch {torch.__version__}, transformers {transformers.__version__}")
    print("| engine | median ms/batch | min ms/batch | tokens/s |")
    print("|---|---|---|---|")
    print(f"| bge.cpp ({bge['backend']}) | {bge['median_ms']:.1f} | {bge['min_ms']:.1f} | {bge['tokens_per_s']:.1f} |")
    print(f"| PyTorch fp32 | {peer['median_ms']:.1f} | {peer['min_ms']:.1f} | {peer['tokens_per_s']:.1f} |")
    print(f"bge.cpp / PyTorch: {ratio:.2f}x")
    print(json.dumps({"tokens": args.tokens, "batch": args.batch, "threads": args.threads, "bge": bge,
                      "torch": peer, "ratio": ratio}))


if __name__ == "__main__":
    main()
