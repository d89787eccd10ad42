"""Where a forward's GPU time goes: ncu's per-kernel durations summed by kind.

Usage: ncu --metrics gpu__time_duration.sum --csv --print-units base BIN bench ... > ncu.csv
       python3 bench/ncu_breakdown.py ncu.csv [--calls N]
--calls: how many profiled calls the CSV holds (totals are divided by it). Kinds: cuBLASLt GEMMs, attention (cuDNN's
fused SDPA or the own flash kernel), exact GELU, residual + LayerNorm, embeddings, the rest (heads, layouts, copies
are not kernels and are not counted).
"""
import argparse
import csv
import collections

KINDS = [
    ("attention (cuDNN SDPA)", ("cudnn", "fmha", "sdpa", "fprop")),
    ("attention (own kernel)", ("flash_attention", "generic_attention")),
    ("exact GELU / tanh", ("activation_kernel",)),
    ("residual + LayerNorm", ("add_layer_norm",)),
    ("embeddings + LayerNorm", ("embed_kernel",)),
    ("cuBLASLt GEMMs", ("gemm", "nvjet", "xmma", "cutlass", "sm90", "sm80", "ampere", "hopper", "splitk", "reduce")),
]


def kind_of(name):
    low = name.lower()
    for kind, keys in KINDS:
        if any(k in low for k in keys):
            return kind
    return "other"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--calls", type=int, default=1)
    args = ap.parse_args()
    totals, counts = collections.Counter(), collections.Counter()
    with open(args.csv, newline="") as f:
        lines = [line for line in f if line.startswith('"')]  # ncu's own log lines are not CSV
    for row in csv.DictReader(lines):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        kind = kind_of(row["Kernel Name"])
        totals[kind] += float(row["Metric Value"].replace(",", "")) / 1e3  # ns -> us
        counts[kind] += 1
    whole = sum(totals.values())
    print("| kind | kernels | µs per call | share |\n|---|---|---|---|")
    for kind, us in totals.most_common():
        print(f"| {kind} | {counts[kind] // args.calls} | {us / args.calls:.0f} | {100 * us / whole:.1f}% |")
    print(f"| all kernels | {sum(counts.values()) // args.calls} | {whole / args.calls:.0f} | 100% |")


if __name__ == "__main__":
    main()
