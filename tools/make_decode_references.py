"""Writes the /decode fixture: ids -> text as `tokenizers.Tokenizer.decode` gives it (what TEI's /decode and
XLMRobertaTokenizerFast.decode run; the test folders' tokenizer_config.json leave clean_up_tokenization_spaces off),
for the base tokenizer.json with each decoder section the published XLM-R files declare, and none.

Usage: python3 tools/make_decode_references.py [--base tests/golden/m3/tokenizer.json]
                                               [--out tests/tokenizer/data/decode_reference.jsonl]
  line 1: {"base", "tokenizers", "decoders": {name: decoder section or null}, "cases"}
  then per case {"ids": [...], "texts": {name: [skip_special_tokens=True, skip_special_tokens=False]}}
Cases: the encodings (template tokens included) of the tokenizer reference strings, random id lists over the
whole vocabulary weighted towards specials and "▁" pieces, and lists of specials only.
"""
import argparse
import json
import os
import random

import tokenizers

ROOT = os.path.join(os.path.dirname(__file__), "..")
META = "\u2581"

DECODERS = {
    "file": "@base",  # the base file's own: Metaspace, prepend_scheme always
    "legacy_add_prefix_space": {"type": "Metaspace", "replacement": META, "add_prefix_space": True},
    "first": {"type": "Metaspace", "replacement": META, "prepend_scheme": "first", "split": True},
    "never": {"type": "Metaspace", "replacement": META, "prepend_scheme": "never", "split": False},
    "none": None,
}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default="tests/golden/m3/tokenizer.json")
    p.add_argument("--out", default="tests/tokenizer/data/decode_reference.jsonl")
    p.add_argument("--strings", type=int, default=400)
    p.add_argument("--random", type=int, default=400)
    a = p.parse_args()
    with open(os.path.join(ROOT, a.base), encoding="utf-8") as f:
        base = json.load(f)
    tokenizers_by_name = {}
    for name, section in DECODERS.items():
        doc = dict(base)
        doc["decoder"] = base["decoder"] if section == "@base" else section
        tokenizers_by_name[name] = tokenizers.Tokenizer.from_str(json.dumps(doc))
    tok = tokenizers_by_name["file"]
    vocab = tok.get_vocab_size(with_added_tokens=True)
    specials = [t["id"] for t in base["added_tokens"]]
    spaces = [i for piece, i in tok.get_vocab().items() if piece.startswith(META)][:200]

    rng = random.Random(6)
    cases = []
    with open(os.path.join(ROOT, "tests/tokenizer/data/reference.jsonl"), encoding="utf-8") as f:
        next(f)
        texts = [json.loads(line)["text"] for line in f if '"text"' in line and '"max_length"' not in line]
    for text in rng.sample(texts, min(a.strings, len(texts))):
        cases.append(tok.encode(text).ids)
    for _ in range(a.random):
        n = rng.randint(0, 12)
        cases.append([rng.choice(specials) if r < 0.15 else rng.choice(spaces) if r < 0.45 else rng.randrange(vocab)
                      for r in (rng.random() for _ in range(n))])
    cases += [[s] for s in specials] + [specials, [0, 2], [2, 0, 4], [4], [4, 4], [4, 4, 4, 5]]

    with open(os.path.join(ROOT, a.out), "w", encoding="utf-8") as out:
        meta = {"base": a.base, "tokenizers": tokenizers.__version__, "decoders": DECODERS, "cases": len(cases)}
        out.write(json.dumps(meta, ensure_ascii=False) + "\n")
        for ids in cases:
            row = {name: [t.decode(ids, skip_special_tokens=True), t.decode(ids, skip_special_tokens=False)]
                   for name, t in tokenizers_by_name.items()}
            out.write(json.dumps({"ids": ids, "texts": row}, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases -> {a.out}")


if __name__ == "__main__":
    main()
