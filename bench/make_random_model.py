"""Writes a BGE-M3-shaped XLMRobertaModel folder with random F16 weights using only the Python standard library
(config.json, model.safetensors, the test SentencePiece model; no sparse/colbert heads), for benchmarks on machines
without torch. The weights are a 64Ki-value random block (uniform in [-0.05, 0.05]) tiled over every tensor: fine
for timing, not for fidelity (tools/make_test_models.py makes those).

Usage: python3 bench/make_random_model.py DIR [--layers 24] [--hidden 1024] [--heads 16] [--ffn 4096]
       [--max-positions 8194]
"""
import argparse
import json
import os
import random
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPM = os.path.join(ROOT, "tests", "golden", "spm", "sentencepiece.bpe.model")
VOCAB = 4000 + 2  # the test SentencePiece model's pieces + the fairseq shift


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir")
    p.add_argument("--layers", type=int, default=24)
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--ffn", type=int, default=4096)
    p.add_argument("--max-positions", type=int, default=8194)
    a = p.parse_args()
    h, f = a.hidden, a.ffn
    tensors = [("embeddings.word_embeddings.weight", [VOCAB, h], "random"),
               ("embeddings.position_embeddings.weight", [a.max_positions, h], "random"),
               ("embeddings.token_type_embeddings.weight", [1, h], "random"),
               ("embeddings.LayerNorm.weight", [h], "ones"), ("embeddings.LayerNorm.bias", [h], "zeros")]
    for l in range(a.layers):
        pre = f"encoder.layer.{l}."
        for m in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            tensors += [(pre + m + ".weight", [h, h], "random"), (pre + m + ".bias", [h], "random")]
        tensors += [(pre + "intermediate.dense.weight", [f, h], "random"), (pre + "intermediate.dense.bias", [f], "random"),
                    (pre + "output.dense.weight", [h, f], "random"), (pre + "output.dense.bias", [h], "random")]
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors += [(pre + ln + ".weight", [h], "ones"), (pre + ln + ".bias", [h], "zeros")]
    header, offset = {}, 0
    for name, shape, _ in tensors:
        n = 2
        for d in shape:
            n *= d
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header)
    text += " " * ((8 - len(text) % 8) % 8)
    rng = random.Random(0)
    block = struct.pack("<65536e", *(rng.uniform(-0.05, 0.05) for _ in range(65536)))
    fills = {"ones": struct.pack("<e", 1.0), "zeros": struct.pack("<e", 0.0)}
    os.makedirs(a.dir, exist_ok=True)
    with open(os.path.join(a.dir, "model.safetensors"), "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text.encode())
        for i, (name, shape, fill) in enumerate(tensors):
            size = header[name]["data_offsets"][1] - header[name]["data_offsets"][0]
            if fill == "random":
                start = (i * 2654) % len(block) & ~1  # a different phase per tensor
                tiled = block[start:] + block * (size // len(block) + 1)
                out.write(tiled[:size])
            else:
                out.write(fills[fill] * (size // 2))
    config = {"architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "hidden_size": h,
              "num_hidden_layers": a.layers, "num_attention_heads": a.heads, "intermediate_size": f,
              "max_position_embeddings": a.max_positions, "vocab_size": VOCAB, "type_vocab_size": 1,
              "layer_norm_eps": 1e-5, "pad_token_id": 1, "hidden_act": "gelu"}
    with open(os.path.join(a.dir, "config.json"), "w") as out:
        json.dump(config, out, indent=2)
    shutil.copyfile(SPM, os.path.join(a.dir, "sentencepiece.bpe.model"))
    print(a.dir)


if __name__ == "__main__":
    main()
