"""Writes the tokenizer.json pipeline-variant fixture: for one small vocabulary, the pipelines that published
XLM-R-family tokenizer.json files declare, and the ids and offsets `tokenizers.Tokenizer` gives for each.

Usage: python3 tools/make_tokenizer_variants.py [--base tests/golden/m3/tokenizer.json]
                                                [--out tests/golden/tokenizer_variants]
Writes OUT/variants.json (per variant, the sections that replace those of the base file; the marker
"@base" stands for the base file's precompiled_charsmap, so the fixture stays small) and OUT/references.jsonl:
  line 1: metadata (variants in order, library version, counts, scripts)
  {"text": s, "ids": [V...], "offsets": [V...]}          single, template tokens added, no truncation
  {"text": s, "max_length": n, "ids": [V...]}            single, truncation (longest_first, right)
  {"a": s, "b": t, "ids": [V...], "offsets": [V...]}     pair
  {"a": s, "b": t, "max_length": n, "ids": [V...]}       pair, truncation
one entry per variant, null meaning "same as the variant before"; offsets are flat [start, end, ...] in UTF-8
bytes of the text (of `a` or `b` for a pair's tokens; [0, 0] for template tokens).
Variants: converter_2020 (Precompiled + Replace(" {2,}" -> " "), Metaspace add_prefix_space, as in the 2020-2023
files), whitespace_split (WhitespaceSplit + Metaspace prepend_scheme always / split, RobertaProcessing),
converter_today (Precompiled, Strip right, Replace(" {2,}" -> "▁"), Metaspace, as the base file), features (Strip
both sides, a String Replace, Whitespace + Metaspace prepend "first" without split, normalized single_word and
lstrip/rstrip added tokens).
"""
import argparse
import json
import os
import random
import sys

import tokenizers

sys.path.insert(0, os.path.dirname(__file__))
from tokenizer_corpus import charsmap_keys, corpus_sample, edge_cases, script_of, stress_strings  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
META = "\u2581"


def precompiled():
    return {"type": "Precompiled", "precompiled_charsmap": "@base"}


def variant_sections(base):
    n_pieces = len(base["model"]["vocab"])
    replace_2020 = {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}
    metaspace_2020 = {"type": "Metaspace", "replacement": META, "add_prefix_space": True}
    metaspace_today = {"type": "Metaspace", "replacement": META, "prepend_scheme": "always", "split": True}
    return {
        "converter_2020": {
            "normalizer": {"type": "Sequence", "normalizers": [precompiled(), replace_2020]},
            "pre_tokenizer": metaspace_2020,
            "decoder": metaspace_2020,
        },
        "whitespace_split": {
            "normalizer": {"type": "Sequence", "normalizers": [precompiled(), replace_2020]},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "WhitespaceSplit"},
                {"type": "Metaspace", "replacement": META, "prepend_scheme": "always", "split": True}]},
            "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                               "trim_offsets": True, "add_prefix_space": True},
        },
        "converter_today": {
            "normalizer": {"type": "Sequence", "normalizers": [
                precompiled(), {"type": "Strip", "strip_left": False, "strip_right": True},
                {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": META}]},
            "pre_tokenizer": metaspace_today,
            "decoder": metaspace_today,
        },
        "features": {
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Strip", "strip_left": True, "strip_right": True}, precompiled(),
                {"type": "Replace", "pattern": {"String": "--"}, "content": "\u2014"}]},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Whitespace"},
                {"type": "Metaspace", "replacement": META, "prepend_scheme": "first", "split": False}]},
            "added_tokens": base["added_tokens"] + [
                {"id": n_pieces, "content": "zz", "single_word": True, "lstrip": False, "rstrip": False,
                 "normalized": True, "special": False},
                {"id": n_pieces + 1, "content": "@@", "single_word": False, "lstrip": True, "rstrip": True,
                 "normalized": False, "special": False}],
        },
    }


def expand(base, sections):
    """The full tokenizer.json of a variant (what the C++ test rebuilds from variants.json)."""
    charsmap = next(n for n in base["normalizer"]["normalizers"] if n["type"] == "Precompiled")["precompiled_charsmap"]
    doc = dict(base)  # the sections below are replaced whole, never changed in place
    for key, value in sections.items():
        doc[key] = json.loads(json.dumps(value).replace('"@base"', json.dumps(charsmap)))
    return doc


def extra_cases():
    """Word-final joiners, every kind of whitespace between words, added tokens inside text."""
    joiners = ["\u200d", "\u200c"]
    words = ["\u0d2b\u0d4b\u0d23\u0d4d", "\u0d28\u0d4d", "\u0915\u094d", "\u0dc1\u0dca", "\u0645\u06cc",
             "\u09b0\u09cd", "word", "\u0c15\u0c4d"]
    cases = []
    for w in words:
        for j in joiners:
            cases += [w + j, w + j + " next", "first " + w + j, w + j + w, w + j + "  " + w, w + j + j, j + w]
    spaces = [chr(c) for c in [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002,
                               0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029,
                               0x202F, 0x205F, 0x3000, 0x180E, 0x200B, 0x2060, 0xFEFF]]
    for s in spaces:
        cases += [f"one{s}two", f"{s}lead", f"trail{s}", f"a{s}{s}b", f"a {s} b", f"x{s}<mask>{s}y"]
    cases += ["zz", "zz top", "azz", "zz!", "a zz b", "zzz", "\uff5a\uff5a", "@@", "x@@y", "x @@ y", "x  @@  y",
              "@@@@", " @@ ", "<mask>zz@@", "a--b", "a - - b", "---", "<s>zz</s>", "a<mask>", "a <mask>", "a  <mask>",
              "\u3000<mask>", "<mask> ", "text<pad>more", "  <unk>", "x</s>  y"]
    return cases


def flat_offsets(text, enc):
    """tokenizers' character offsets as UTF-8 byte offsets, flattened."""
    starts = [0]
    for ch in text:
        starts.append(starts[-1] + len(ch.encode("utf-8")))
    out = []
    for s, e in enc.offsets:
        out += [starts[s], starts[e]]
    return out


def pair_offsets(a, b, enc):
    out = []
    starts = {0: [0], 1: [0]}
    for i, t in enumerate((a, b)):
        for ch in t:
            starts[i].append(starts[i][-1] + len(ch.encode("utf-8")))
    for (s, e), seq in zip(enc.offsets, enc.sequence_ids):
        table = starts[seq] if seq is not None else [0]
        out += [table[s] if seq is not None else 0, table[e] if seq is not None else 0]
    return out


def dedup(values):
    out, last = [], object()
    for v in values:
        out.append(None if v == last else v)
        last = v
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default=os.path.join(ROOT, "tests", "golden", "m3", "tokenizer.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden", "tokenizer_variants"))
    args = ap.parse_args()
    with open(args.base, encoding="utf-8") as f:
        base = json.load(f)
    sections = variant_sections(base)
    names = list(sections)
    toks = [tokenizers.Tokenizer.from_str(json.dumps(expand(base, sections[n]))) for n in names]
    rnd = random.Random(20251201)

    corpus = corpus_sample(rnd)
    edges = edge_cases() + extra_cases()
    stress = stress_strings(rnd, charsmap_keys(base["normalizer"]), 300)
    strings = list(dict.fromkeys(corpus + edges + stress))

    def run(a, b=None, max_length=None):
        encs = []
        for t in toks:
            if max_length:
                t.enable_truncation(max_length)
            else:
                t.no_truncation()
            encs.append(t.encode(a, b) if b is not None else t.encode(a))
        return encs

    cases = []
    for s in strings:
        encs = run(s)
        cases.append({"text": s, "ids": dedup([e.ids for e in encs]),
                      "offsets": dedup([flat_offsets(s, e) for e in encs])})
    n_single = len(cases)
    for s in rnd.sample(strings, 200) + edges[:40]:
        for n in sorted(rnd.sample([2, 3, 4, 5, 6, 8, 11, 16, 32], 2)):
            cases.append({"text": s, "max_length": n, "ids": dedup([e.ids for e in run(s, max_length=n)])})
    n_single_trunc = len(cases) - n_single

    pairs = [(rnd.choice(strings), rnd.choice(strings)) for _ in range(250)]
    pairs += [(e, rnd.choice(corpus)) for e in rnd.sample(edges, 40)] + [(rnd.choice(corpus), e) for e in
                                                                         rnd.sample(edges, 40)]
    pairs += [("", "x"), ("x", ""), ("", ""), (" ", "x"), ("x", " "), ("<s>", "</s>"), ("zz", "@@")]
    for a, b in pairs:
        encs = run(a, b)
        cases.append({"a": a, "b": b, "ids": dedup([e.ids for e in encs]),
                      "offsets": dedup([pair_offsets(a, b, e) for e in encs])})
    # Truncated pairs: odd and even excess, ties, one side shorter than half the budget, both past it.
    words = [w for w in corpus if 3 <= len(toks[2].encode(w, add_special_tokens=False).ids) <= 40]
    n_pair_trunc = 0
    for _ in range(200):
        a, b = rnd.choice(words), rnd.choice(words)
        if rnd.random() < 0.2:
            b = a
        if rnd.random() < 0.3:
            a = " ".join([a] * rnd.randint(2, 5))
        for n in sorted(rnd.sample(range(4, 48), 2)):
            cases.append({"a": a, "b": b, "max_length": n, "ids": dedup([e.ids for e in run(a, b, n)])})
            n_pair_trunc += 1

    scripts = sorted({s for s in map(script_of, set("".join(strings))) if s})
    meta = {"base": os.path.relpath(os.path.abspath(args.base), os.path.abspath(ROOT)), "variants": names,
            "tokenizers": tokenizers.__version__, "strings": len(strings), "single_truncation": n_single_trunc,
            "pairs": len(pairs), "pair_truncation": n_pair_trunc, "scripts": scripts}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "variants.json"), "w", encoding="utf-8") as f:
        json.dump(sections, f, ensure_ascii=False, indent=1)
        f.write("\n")
    path = os.path.join(args.out, "references.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(meta, ensure_ascii=False) + "\n")
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{path}: {len(cases)} cases, {os.path.getsize(path)} bytes; {len(strings)} strings in {len(scripts)} "
          f"scripts, {n_single_trunc} single truncation, {len(pairs)} pairs, {n_pair_trunc} pair truncation; "
          f"variants {' '.join(names)}")


if __name__ == "__main__":
    main()
