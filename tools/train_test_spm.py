"""Trains the small SentencePiece Unigram model used by the test fixtures, with Debian's `spm_train`.

Usage: python3 tools/train_test_spm.py OUT_DIR [--vocab-size N]
Writes OUT_DIR/sentencepiece.bpe.model (the file name BAAI's folders use, though the model is Unigram, as XLM-R's is).
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from iso_corpus import iso_strings  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--vocab-size", type=int, default=4000)
    ap.add_argument("--sentences", type=int, default=60000)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    lines = [t.replace("\n", " ") for _, t in iso_strings()]
    random.Random(0).shuffle(lines)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lines[: args.sentences]))
        corpus = f.name
    prefix = os.path.join(args.out_dir, "sentencepiece.bpe")
    subprocess.run(
        ["spm_train", f"--input={corpus}", f"--model_prefix={prefix}", f"--vocab_size={args.vocab_size}",
         "--model_type=unigram", "--character_coverage=0.9995", "--normalization_rule_name=nmt_nfkc",
         "--num_threads=2", "--seed_sentencepiece_size=200000", "--minloglevel=2"],
        check=True)
    os.remove(corpus)
    os.remove(prefix + ".vocab")


if __name__ == "__main__":
    main()
