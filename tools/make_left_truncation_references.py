"""Writes the left-truncation fixture: the ids `tokenizers.Tokenizer` gives with truncation direction "left"
(TEI's truncation_direction, transformers' truncation_side), longest_first for pairs, on the m3 test tokenizer.

Usage: python3 tools/make_left_truncation_references.py [--base tests/golden/m3/tokenizer.json]
                                                        [--out tests/tokenizer/data/left_truncation.jsonl]
  line 1: {"base", "tokenizers", "singles", "pairs"}
  {"text": s, "max_length": n, "ids": [...]}    single
  {"a": s, "b": t, "max_length": n, "ids": [...]}  pair
Strings are those of tests/tokenizer/data/reference.jsonl and joins of 20 of them; max lengths from 4 (pairs: 5) to past the length.
"""
import argparse
import json
import os
import random

import tokenizers

ROOT = os.path.join(os.path.dirname(__file__), "..")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default="tests/golden/m3/tokenizer.json")
    p.add_argument("--out", default="tests/tokenizer/data/left_truncation.jsonl")
    p.add_argument("--singles", type=int, default=300)
    p.add_argument("--pairs", type=int, default=300)
    a = p.parse_args()
    tok = tokenizers.Tokenizer.from_file(os.path.join(ROOT, a.base))
    with open(os.path.join(ROOT, "tests/tokenizer/data/reference.jsonl"), encoding="utf-8") as f:
        next(f)
        texts = [json.loads(line)["text"] for line in f if '"text"' in line and '"max_length"' not in line]
    rng = random.Random(14)
    # Long texts too: 20 strings joined, so that the kept tail spans many words.
    texts += [" ".join(rng.sample(texts, 20)) for _ in range(len(texts) // 20)]
    rows = []
    for text in rng.sample(texts, a.singles):
        n = len(tok.encode(text).ids)
        m = rng.randint(3, max(3, n + 2))
        tok.enable_truncation(m, direction="left")
        rows.append({"text": text, "max_length": m, "ids": tok.encode(text).ids})
    for _ in range(a.pairs):
        s, t = rng.choice(texts), rng.choice(texts)
        tok.no_truncation()
        n = len(tok.encode(s, t).ids)
        m = rng.randint(5, max(5, n + 2))
        tok.enable_truncation(m, strategy="longest_first", direction="left")
        rows.append({"a": s, "b": t, "max_length": m, "ids": tok.encode(s, t).ids})
    with open(os.path.join(ROOT, a.out), "w", encoding="utf-8") as out:
        meta = {"base": a.base, "tokenizers": tokenizers.__version__, "singles": a.singles, "pairs": a.pairs}
        out.write(json.dumps(meta) + "\n")
        for r in rows:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} cases -> {a.out}")


if __name__ == "__main__":
    main()
