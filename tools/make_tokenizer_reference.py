"""Writes the tokenizer parity fixture: Hugging Face XLMRobertaTokenizerFast ids for many strings.

Usage: python3 tools/make_tokenizer_reference.py [--model SPM] [--out JSONL]
Defaults: tests/golden/spm/sentencepiece.bpe.model -> tests/tokenizer/data/reference.jsonl.

The first line is metadata (model, library versions, counts); every other line is one case:
  {"text": s, "ids": [...]}                      single, no truncation
  {"text": s, "max_length": n, "ids": [...]}     single, truncation=True
  {"a": s, "b": t, "ids": [...]}                 pair, no truncation
  {"a": s, "b": t, "max_length": n, "ids": [...]} pair, truncation=True (longest_first)
Pairs are encoded as tok([a], [b]), the batch form rerankers use: tok(a, b) for a single example treats an empty
b as no pair at all (transformers' `if text_pair`), which the script checks is the only difference.
Strings: Debian iso-codes translations sampled per Unicode script (tools/iso_corpus.py), hand-made edge cases,
and random strings over characters that stress grapheme clustering and the normalization rules.
"""
import argparse
import json
import os
import random
import sys

import sentencepiece
import tokenizers
import transformers

sys.path.insert(0, os.path.dirname(__file__))
from hf_tokenizer import build_fast_tokenizer  # noqa: E402
from tokenizer_corpus import charsmap_keys, corpus_sample, edge_cases, script_of, stress_strings  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")


def hf_tokenizer(model_path):
    tok = build_fast_tokenizer(model_path)
    spm = sentencepiece.SentencePieceProcessor(model_file=model_path)
    # On plain text both pipelines agree; ids differ by the fairseq shift.
    for s in ["Hello world", "Deutschland und Österreich", "Российская Федерация", "日本"]:
        assert tok(s, add_special_tokens=False)["input_ids"] == [i + 1 for i in spm.encode(s)], s
    return tok, tok.backend_tokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "tests", "golden", "spm", "sentencepiece.bpe.model"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "tokenizer", "data", "reference.jsonl"))
    args = ap.parse_args()
    transformers.logging.set_verbosity_error()
    tok, fast = hf_tokenizer(args.model)
    rnd = random.Random(20240531)

    corpus = corpus_sample(rnd)
    edges = edge_cases()
    stress = stress_strings(rnd, charsmap_keys(json.loads(fast.to_str())["normalizer"]), 300)
    strings = list(dict.fromkeys(corpus + edges + stress))

    def ids(a, b=None, max_length=None):
        kw = {"truncation": True, "max_length": max_length} if max_length else {}
        if b is None:
            return tok(a, **kw)["input_ids"]
        batch = tok([a], [b], **kw)["input_ids"][0]
        if b:
            assert tok(a, b, **kw)["input_ids"] == batch, (a, b)
        return batch

    cases = [{"text": s, "ids": ids(s)} for s in strings]
    n_single = len(cases)
    for s in rnd.sample(strings, 250) + edges[:40]:
        for n in sorted(rnd.sample([2, 3, 4, 5, 6, 8, 11, 16, 32], 3)):
            cases.append({"text": s, "max_length": n, "ids": ids(s, max_length=n)})
    n_single_trunc = len(cases) - n_single

    pairs = [(rnd.choice(strings), rnd.choice(strings)) for _ in range(300)]
    pairs += [(e, rnd.choice(corpus)) for e in rnd.sample(edges, 40)] + [(rnd.choice(corpus), e) for e in
                                                                         rnd.sample(edges, 40)]
    pairs += [("", "x"), ("x", ""), ("", ""), (" ", "x"), ("x", " "), ("<s>", "</s>"), ("a" * 50, "b")]
    for a, b in pairs:
        cases.append({"a": a, "b": b, "ids": ids(a, b)})
    n_pair = len(pairs)
    # Truncation of pairs: lengths chosen so that the excess is odd and even, the two sides tie, one side is
    # shorter than half the budget, and both exceed it.
    words = [w for w in corpus if 3 <= len(tok(w, add_special_tokens=False)["input_ids"]) <= 40]
    n_pair_trunc = 0
    for _ in range(250):
        a, b = rnd.choice(words), rnd.choice(words)
        if rnd.random() < 0.2:
            b = a
        if rnd.random() < 0.3:
            a = " ".join([a] * rnd.randint(2, 5))
        for n in sorted(rnd.sample(range(4, 48), 3)):
            cases.append({"a": a, "b": b, "max_length": n, "ids": ids(a, b, n)})
            n_pair_trunc += 1

    scripts = sorted({s for s in map(script_of, set("".join(strings))) if s})
    iso_scripts = sorted({s for s in map(script_of, set("".join(corpus))) if s})
    meta = {"model": os.path.relpath(os.path.abspath(args.model), os.path.abspath(ROOT)),
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "strings": len(strings), "iso_strings": len(corpus), "edge_cases": len(edges), "stress": len(stress),
            "single_truncation": n_single_trunc, "pairs": n_pair, "pair_truncation": n_pair_trunc,
            "iso_scripts": iso_scripts, "scripts": scripts}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(json.dumps(meta, ensure_ascii=False) + "\n")
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{args.out}: {len(cases)} cases, {os.path.getsize(args.out)} bytes; {len(strings)} strings "
          f"({len(corpus)} iso-codes, {len(edges)} edge, {len(stress)} stress), {n_single_trunc} single truncation, "
          f"{n_pair} pairs, {n_pair_trunc} pair truncation; {len(iso_scripts)} scripts in the iso-codes strings: "
          f"{' '.join(iso_scripts)}; {len(scripts)} in all strings")


if __name__ == "__main__":
    main()
