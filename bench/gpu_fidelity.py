"""GPU fidelity: bge on CUDA against transformers fp32 (TF32 off), with transformers fp16/bf16 drift beside it.

Usage: python3 bench/gpu_fidelity.py --bge BIN [--workdir DIR] [--layers 24] [--json OUT]
Makes a full BGE-M3-shape model with random weights (transformers' default init; 24 layers, hidden 1024, 16 heads,
FFN 4096, 8194 positions; vocabulary: the repository's test SentencePiece model) and a reranker of the same shape,
embeds texts of 5..8192 tokens in one mixed run, and reports per dtype, for transformers and for bge:
  dense / colbert: min cosine to the fp32 reference over texts (colbert: over every vector);
  sparse: max |diff| relative to the text's largest reference weight; top-20 ids kept (fraction of texts);
  reranker: max |logit diff|.
Prints a table, writes JSON, exits 1 when bge drifts more than 2x transformers in the same dtype (1 - cos, sparse,
logits) or misses the issue's absolute bars (fp16 cos >= 0.999996, bf16 >= 0.99973) where transformers meets them.
"""
import argparse
import json
import os
import subprocess
import sys

import torch
from torch import nn
from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification, XLMRobertaModel

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from hf_tokenizer import build_fast_tokenizer  # noqa: E402
from make_test_models import DEFAULT_SPM, write_config, write_tokenizer  # noqa: E402

SPECIAL = {0, 1, 2, 3}
WORDS = ["Deutschland", "Россия", "日本", "water", "économie", "संख्या", "mountain", "القاهرة"]
ABS_BAR = {"fp16": 0.999996, "bf16": 0.99973}


def make_models(workdir, layers, tokenizer):
    torch.manual_seed(0)
    cfg = dict(vocab_size=len(tokenizer), hidden_size=1024, num_hidden_layers=layers, num_attention_heads=16,
               intermediate_size=4096, max_position_embeddings=8194, type_vocab_size=1, pad_token_id=1,
               bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5, hidden_act="gelu")
    m3_dir, rr_dir = os.path.join(workdir, "m3"), os.path.join(workdir, "reranker")
    model = XLMRobertaModel(XLMRobertaConfig(**cfg), add_pooling_layer=False).eval()
    sparse, colbert = nn.Linear(1024, 1), nn.Linear(1024, 1024)
    os.makedirs(m3_dir, exist_ok=True)
    model.save_pretrained(m3_dir)
    torch.save(sparse.state_dict(), os.path.join(m3_dir, "sparse_linear.pt"))
    torch.save(colbert.state_dict(), os.path.join(m3_dir, "colbert_linear.pt"))
    write_tokenizer(tokenizer, DEFAULT_SPM, m3_dir)
    reranker = XLMRobertaForSequenceClassification(XLMRobertaConfig(**cfg, num_labels=1)).eval()
    os.makedirs(rr_dir, exist_ok=True)
    reranker.save_pretrained(rr_dir)
    write_tokenizer(tokenizer, DEFAULT_SPM, rr_dir)
    return (model, sparse, colbert), reranker, m3_dir, rr_dir


def texts():
    out = []
    for n_words in (2, 12, 70, 300, 1200, 4000, 9000):
        out.append(" ".join(WORDS[i % len(WORDS)] for i in range(n_words)))
    return out


def hf_embed(m3, ids_list, dtype):
    model, sparse, colbert = (m.to("cuda", dtype) for m in m3)
    res = []
    with torch.no_grad():
        for ids in ids_list:
            t = torch.tensor([ids], device="cuda")
            h = model(input_ids=t).last_hidden_state[0]
            dense = torch.nn.functional.normalize(h[0].float(), dim=-1)
            w = torch.relu(sparse(h)).float()[:, 0]
            weights = {}
            for tok, x in zip(ids, w.tolist()):
                if tok in SPECIAL or x <= 0:
                    continue
                weights[tok] = max(weights.get(tok, 0.0), x)
            col = torch.nn.functional.normalize(colbert(h[1:]).float(), dim=-1)
            res.append({"dense": dense.cpu(), "sparse": weights, "colbert": col.cpu()})
    for m in m3:
        m.to("cpu", torch.float32)
    return res


def hf_rerank(reranker, pair_ids, dtype):
    reranker.to("cuda", dtype)
    with torch.no_grad():
        logits = [reranker(input_ids=torch.tensor([ids], device="cuda")).logits[0, 0].float().item()
                  for ids in pair_ids]
    reranker.to("cpu", torch.float32)
    return logits


def bge_embed(binary, model_dir, text_list, dtype):
    lines = "".join(json.dumps(t) + "\n" for t in text_list)
    out = subprocess.run([binary, "embed", "--model", model_dir, "--device", "cuda", "--dtype", dtype, "--quiet",
                          "--max-length", "8192"], input=lines, capture_output=True, text=True, check=True)
    res = []
    for line in out.stdout.splitlines():
        j = json.loads(line)
        res.append({"dense": torch.tensor(j["dense"]), "sparse": {int(k): v for k, v in j["sparse"].items()},
                    "colbert": torch.tensor(j["colbert"]), "tokens": j["tokens"]})
    return res


def bge_rerank(binary, model_dir, pairs, dtype):
    lines = "".join(json.dumps({"query": q, "passage": p}) + "\n" for q, p in pairs)
    out = subprocess.run([binary, "rerank", "--model", model_dir, "--device", "cuda", "--dtype", dtype, "--quiet",
                          "--max-length", "8192"], input=lines, capture_output=True, text=True, check=True)
    return [json.loads(line)["logit"] for line in out.stdout.splitlines()]


def compare(ref, got):
    cos_dense = min(float(torch.dot(r["dense"], g["dense"])) for r, g in zip(ref, got))
    cos_col = min(float((r["colbert"] * g["colbert"]).sum(-1).min()) for r, g in zip(ref, got))
    sparse_err, top_kept = 0.0, 0
    for r, g in zip(ref, got):
        top = max(r["sparse"].values(), default=1.0)
        for k in r["sparse"].keys() | g["sparse"].keys():
            sparse_err = max(sparse_err, abs(r["sparse"].get(k, 0.0) - g["sparse"].get(k, 0.0)) / top)
        top_r = sorted(r["sparse"], key=r["sparse"].get, reverse=True)[:20]
        top_g = sorted(g["sparse"], key=g["sparse"].get, reverse=True)[:20]
        top_kept += set(top_r) == set(top_g)
    return {"dense_cos": cos_dense, "colbert_cos": cos_col, "sparse_rel": sparse_err, "top20_same": top_kept / len(ref)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bge", required=True)
    ap.add_argument("--workdir", default="/tmp/bge-fidelity")
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    tokenizer = build_fast_tokenizer(DEFAULT_SPM)
    m3, reranker, m3_dir, rr_dir = make_models(args.workdir, args.layers, tokenizer)
    text_list = texts()
    ids_list = [tokenizer(t, truncation=True, max_length=8192)["input_ids"] for t in text_list]
    pairs = [(text_list[i], text_list[j]) for i, j in ((0, 1), (1, 2), (2, 3), (3, 4), (2, 5), (1, 6))]
    pair_ids = [tokenizer(q, p, truncation="longest_first", max_length=8192)["input_ids"] for q, p in pairs]
    print("lengths:", [len(i) for i in ids_list], "pairs:", [len(i) for i in pair_ids], flush=True)

    ref = hf_embed(m3, ids_list, torch.float32)
    ref_logits = hf_rerank(reranker, pair_ids, torch.float32)
    rows, failures = [], []
    for dtype, tdtype in (("fp32", torch.float32), ("fp16", torch.float16), ("bf16", torch.bfloat16)):
        for who in ("transformers", "bge"):
            if who == "transformers" and dtype == "fp32":
                continue
            if who == "transformers":
                got, logits = hf_embed(m3, ids_list, tdtype), hf_rerank(reranker, pair_ids, tdtype)
            else:
                got, logits = bge_embed(args.bge, m3_dir, text_list, dtype), bge_rerank(args.bge, rr_dir, pairs, dtype)
                bad = [(g["tokens"], len(i)) for g, i in zip(got, ids_list) if g["tokens"] != len(i)]
                if bad:
                    failures.append(f"bge {dtype}: token counts differ {bad}")
            row = {"dtype": dtype, "who": who, **compare(ref, got),
                   "logit_abs": max(abs(a - b) for a, b in zip(ref_logits, logits))}
            rows.append(row)
            print(json.dumps(row), flush=True)
    by = {(r["dtype"], r["who"]): r for r in rows}
    for dtype in ("fp16", "bf16"):
        ours, theirs = by[(dtype, "bge")], by[(dtype, "transformers")]
        for key in ("dense_cos", "colbert_cos"):
            if 1 - ours[key] > 2 * (1 - theirs[key]) + 1e-7:
                failures.append(f"{dtype} {key}: 1-cos {1 - ours[key]:.3g} > 2x transformers' {1 - theirs[key]:.3g}")
            if theirs[key] >= ABS_BAR[dtype] > ours[key]:
                failures.append(f"{dtype} {key}: {ours[key]:.7f} below the bar {ABS_BAR[dtype]}")
        for key in ("sparse_rel", "logit_abs"):
            if ours[key] > 2 * theirs[key] + 1e-6:
                failures.append(f"{dtype} {key}: {ours[key]:.3g} > 2x transformers' {theirs[key]:.3g}")
        if ours["top20_same"] < theirs["top20_same"]:
            failures.append(f"{dtype}: sparse top-20 kept for {ours['top20_same']:.2f} of texts, transformers "
                            f"{theirs['top20_same']:.2f}")
    fp32 = by[("fp32", "bge")]
    print("\n| dtype | engine | dense min cos | colbert min cos | sparse max rel err | top-20 same | logit max abs |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dtype']} | {r['who']} | {r['dense_cos']:.7f} | {r['colbert_cos']:.7f} | {r['sparse_rel']:.3g} "
              f"| {r['top20_same']:.2f} | {r['logit_abs']:.3g} |")
    print(f"bge fp32 vs transformers fp32: dense {1 - fp32['dense_cos']:.2g}, logits {fp32['logit_abs']:.2g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "failures": failures}, f, indent=1)
    for f in failures:
        print("FIDELITY FAIL:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
