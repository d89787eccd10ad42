"""Dense-vector drift of one bge.cpp build and dtype against another's (default: the same build in fp32) on many
texts, which a worst-of-8 figure (bench/cpu_peer_bench.py's fidelity) samples too thinly to compare two int8 choices:
the mean, median and max over the texts of 1 - cos. Standard library only.

Usage: python3 bench/dense_drift.py --bge build/bge --model DIR [--dtype int8] [--ref-bge OTHER] [--ref-dtype fp32]
       [--texts 48] [--threads 2]
Texts: --texts of 4 to 400 words (up to 512 tokens, truncated) drawn with a fixed seed from a multilingual list.
"""
import argparse
import json
import math
import random
import statistics
import subprocess

WORDS = ["Deutschland", "Россия", "日本", "hello", "world", "embedding", "retrieval", "the", "quick", "brown", "fox",
         "jumps", "über", "den", "faulen", "Hund", "Москва", "東京", "model", "search", "dense", "sparse", "vector"]


def dense(binary, model, dtype, threads, texts):
    lines = "".join(json.dumps(t) + "\n" for t in texts)
    out = subprocess.run([binary, "embed", "--model", model, "--dtype", dtype, "--max-length", "512", "--quiet",
                          "--threads", str(threads)], input=lines, capture_output=True, text=True, check=True).stdout
    return [json.loads(line)["dense"] for line in out.splitlines()]


def one_minus_cos(a, b):
    ab = sum(x * y for x, y in zip(a, b))
    return 1 - ab / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bge", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--dtype", default="int8")
    ap.add_argument("--ref-bge", help="the reference build (default: --bge)")
    ap.add_argument("--ref-dtype", default="fp32")
    ap.add_argument("--texts", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    rng = random.Random(1)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.choice([4, 10, 30, 80, 200, 400])))
             for _ in range(a.texts)]
    ref = dense(a.ref_bge or a.bge, a.model, a.ref_dtype, a.threads, texts)
    got = dense(a.bge, a.model, a.dtype, a.threads, texts)
    d = [one_minus_cos(r, g) for r, g in zip(ref, got)]
    print(f"{a.bge} {a.dtype} vs {a.ref_bge or a.bge} {a.ref_dtype}, {len(d)} texts: 1 - cos mean {statistics.mean(d):.3g}"
          f", median {statistics.median(d):.3g}, max {max(d):.3g}")


if __name__ == "__main__":
    main()
