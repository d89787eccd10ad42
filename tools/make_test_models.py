"""Builds small random XLM-RoBERTa models in the folder layouts of BAAI/bge-m3 and BAAI/bge-reranker-v2-m3.

Usage: python3 tools/make_test_models.py OUT_DIR [--seed N] [--spm PATH] [--hidden 32 --layers 2 --heads 4 --ffn 64
       --max-positions 130] [--variants m3 m3-bin m3-f16-sharded reranker reranker-bf16-bin]
Writes OUT_DIR/<variant>/ for each variant; the same arguments give the same bytes.
Weights are drawn larger than torch's default init so that outputs are O(1) and errors show; the sparse head's bias
puts the median token weight at 0 and the reranker's classifier is scaled so that logits spread over about [-4, 4].
"""
import argparse
import copy
import hashlib
import json
import os
import shutil
import struct
import sys
import zipfile
import zlib

import torch
from torch import nn
from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification, XLMRobertaModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_tokenizer import build_fast_tokenizer  # noqa: E402
from make_references import PAIRS, TEXTS  # noqa: E402

VARIANTS = ("m3", "m3-bin", "m3-f16-sharded", "reranker", "reranker-bf16-bin")
DEFAULT_SPM = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden",
                                            "spm", "sentencepiece.bpe.model"))
WEIGHT_STD = 0.2
LOGIT_STD = 2.5  # reranker logits ~ N(0, 2.5^2) over the calibration pairs
SHARD_SIZE = "100KB"  # several shards even for the small fp16 model

_SPECIAL_TOKENS = ("bos_token", "cls_token", "eos_token", "mask_token", "pad_token", "sep_token", "unk_token")


def make_config(vocab_size, args, **extra):
    return XLMRobertaConfig(vocab_size=vocab_size, hidden_size=args.hidden, num_hidden_layers=args.layers,
                            num_attention_heads=args.heads, intermediate_size=args.ffn, hidden_act="gelu",
                            max_position_embeddings=args.max_positions, type_vocab_size=1, layer_norm_eps=1e-5,
                            pad_token_id=1, bos_token_id=0, eos_token_id=2, position_embedding_type="absolute",
                            **extra)


@torch.no_grad()
def randomize_(module, gen):
    """Redraws every Linear/Embedding/LayerNorm parameter, in module order, from `gen`."""
    for sub in module.modules():
        if isinstance(sub, nn.LayerNorm):
            sub.weight.copy_(1 + 0.1 * torch.randn(sub.weight.shape, generator=gen))
            sub.bias.copy_(0.1 * torch.randn(sub.bias.shape, generator=gen))
        elif isinstance(sub, (nn.Linear, nn.Embedding)):
            for p in sub.parameters(recurse=False):
                p.copy_(WEIGHT_STD * torch.randn(p.shape, generator=gen))


# Calibration runs in float64 and its results are rounded, so that BLAS differences between machines cannot change
# a stored bit.
@torch.no_grad()
def calibrate_sparse_bias_(sparse, encoder, tokenizer):
    """Sets the bias so that about half of the calibration tokens (specials excluded) get a positive weight."""
    encoder = copy.deepcopy(encoder).double()
    values = []
    for text in TEXTS:
        ids = tokenizer(text, truncation=True, max_length=encoder.config.max_position_embeddings - 2)["input_ids"]
        h = encoder(input_ids=torch.tensor([ids])).last_hidden_state[0]  # F64 [n, H]
        keep = torch.tensor([i > 3 for i in ids])
        values.append((h[keep] @ sparse.weight.double().T)[:, 0])
    sparse.bias.fill_(round(-float(torch.cat(values).median()), 3))


@torch.no_grad()
def calibrate_classifier_(model, tokenizer):
    """Scales and shifts out_proj so the logits over the calibration pairs have mean ~0 and std ~LOGIT_STD."""
    model64 = copy.deepcopy(model).double()
    pairs = list(PAIRS) + list(zip(TEXTS[::2], TEXTS[1::2]))
    max_length = model.config.max_position_embeddings - 2
    logits = torch.stack([
        model64(input_ids=torch.tensor([tokenizer(q, p, truncation=True, max_length=max_length)["input_ids"]]))
        .logits[0, 0] for q, p in pairs])  # F64 [n_pairs]
    scale = round(LOGIT_STD / float(logits.std()), 2)
    out = model.classifier.out_proj
    out.bias.fill_(round(scale * (float(out.bias) - float(logits.mean())), 3))
    out.weight.mul_(scale)


def torch_save(obj, path):
    """torch.save, then the random `.data/serialization_id` record is replaced by a digest of the other records so
    that the same tensors give the same bytes. The archive layout (offsets, alignment) is unchanged."""
    torch.save(obj, path)
    with zipfile.ZipFile(path) as z:
        digest = hashlib.sha256()
        for info in z.infolist():
            if info.filename.endswith("/.data/serialization_id"):
                target, central = info, z.start_dir
            else:
                digest.update(z.read(info))
        # Walk the central directory (46-byte headers + name, extra, comment) to the record's entry.
        for info in z.infolist():
            if info is target:
                break
            central += 46 + len(info.filename.encode()) + len(info.extra) + len(info.comment)
    if target.compress_type != zipfile.ZIP_STORED or target.compress_size != target.file_size:
        raise RuntimeError(f"{path}: unexpected zip record format for {target.filename}")
    old_crc = struct.pack("<I", target.CRC)
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        name_len, extra_len = struct.unpack_from("<HH", data, target.header_offset + 26)
        start = target.header_offset + 30 + name_len + extra_len
        new_id = str(int(digest.hexdigest(), 16))[:target.file_size].encode()
        crc = struct.pack("<I", zlib.crc32(new_id))
        data[start:start + target.file_size] = new_id
        # The CRC-32 is in the local header, or (flag bit 3) in a data descriptor after the data, and in the
        # central directory entry.
        crc_at = [target.header_offset + 14, central + 16]
        if target.flag_bits & 0x08:
            end = start + target.file_size
            crc_at.append(end + 4 if data[end:end + 4] == b"PK\x07\x08" else end)
        for at in crc_at:
            if data[at:at + 4] == old_crc:
                data[at:at + 4] = crc
        f.seek(0)
        f.write(data)


def write_config(model, out_dir, dtype):
    """config.json as save_pretrained writes it, for folders whose weights are written by torch.save."""
    config = copy.deepcopy(model.config)
    config.architectures = [type(model).__name__]
    config.dtype = dtype
    config.save_pretrained(out_dir)


def write_tokenizer(tokenizer, spm_path, out_dir):
    """tokenizer.json, tokenizer_config.json, special_tokens_map.json and the SentencePiece model, as in BAAI's."""
    tokenizer.backend_tokenizer.no_truncation()  # calibration calls left truncation on; BAAI's file has none
    tokenizer.backend_tokenizer.no_padding()
    tokenizer.save_pretrained(out_dir)
    shutil.copyfile(spm_path, os.path.join(out_dir, "sentencepiece.bpe.model"))
    added = {t.content: t for t in tokenizer.backend_tokenizer.get_added_tokens_decoder().values()}
    special = {}
    for name in _SPECIAL_TOKENS:
        t = added[getattr(tokenizer, name)]
        special[name] = {"content": t.content, "lstrip": t.lstrip, "normalized": t.normalized, "rstrip": t.rstrip,
                         "single_word": t.single_word}
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(special, f, indent=2)
        f.write("\n")


def build_embedder(args, tokenizer, gen):
    """Returns (XLMRobertaModel, sparse_linear [1, H], colbert_linear [H, H]), fp32, calibrated."""
    model = XLMRobertaModel(make_config(len(tokenizer), args)).eval()
    sparse = nn.Linear(args.hidden, 1)
    colbert = nn.Linear(args.hidden, args.hidden)
    for m in (model, sparse, colbert):
        randomize_(m, gen)
    calibrate_sparse_bias_(sparse, model, tokenizer)
    return model, sparse, colbert


def build_reranker(args, tokenizer, gen):
    config = make_config(len(tokenizer), args, num_labels=1)
    model = XLMRobertaForSequenceClassification(config).eval()
    randomize_(model, gen)
    calibrate_classifier_(model, tokenizer)
    return model


def save_embedder(variant, model, sparse, colbert, out_dir):
    if variant == "m3":
        model.save_pretrained(out_dir)
    elif variant == "m3-bin":
        write_config(model, out_dir, "float32")
        torch_save(model.state_dict(), os.path.join(out_dir, "pytorch_model.bin"))
    elif variant == "m3-f16-sharded":
        copy.deepcopy(model).half().save_pretrained(out_dir, max_shard_size=SHARD_SIZE)
    torch_save(sparse.state_dict(), os.path.join(out_dir, "sparse_linear.pt"))
    torch_save(colbert.state_dict(), os.path.join(out_dir, "colbert_linear.pt"))


def save_reranker(variant, model, out_dir):
    if variant == "reranker":
        model.save_pretrained(out_dir)
    elif variant == "reranker-bf16-bin":
        write_config(model, out_dir, "bfloat16")
        torch_save(copy.deepcopy(model).bfloat16().state_dict(), os.path.join(out_dir, "pytorch_model.bin"))


def generate(out_dir, seed=0, spm_path=DEFAULT_SPM, sizes=None, variants=VARIANTS):
    """Writes the variant folders under out_dir; returns their paths."""
    sizes = sizes or size_args(argparse.ArgumentParser()).parse_args([])
    tokenizer = build_fast_tokenizer(spm_path)
    embedder = reranker = None
    paths = []
    for variant in variants:
        d = os.path.join(out_dir, variant)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        if variant.startswith("m3"):
            if embedder is None:
                embedder = build_embedder(sizes, tokenizer, torch.Generator().manual_seed(2 * seed))
            save_embedder(variant, *embedder, d)
        else:
            if reranker is None:
                reranker = build_reranker(sizes, tokenizer, torch.Generator().manual_seed(2 * seed + 1))
            save_reranker(variant, reranker, d)
        write_tokenizer(tokenizer, spm_path, d)
        paths.append(d)
    return paths


def size_args(ap):
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=64)
    ap.add_argument("--max-positions", type=int, default=130, help="max input tokens + 2")
    return ap


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--spm", default=DEFAULT_SPM)
    size_args(ap)
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    args = ap.parse_args()
    for path in generate(args.out_dir, args.seed, args.spm, args, args.variants):
        print(path)


if __name__ == "__main__":
    main()
