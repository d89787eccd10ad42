"""Writes a SentencePiece Unigram model (sentencepiece.bpe.model layout of XLM-R) holding the vocabulary, scores
and precompiled_charsmap of an XLM-R tokenizer.json: the fairseq ids 4.. back to SentencePiece ids 3.., <unk>
<s> </s> at 0 1 2. For tests of the SentencePiece path on a real vocabulary where only tokenizer.json is
published.

Usage: python3 tools/spm_from_tokenizer_json.py TOKENIZER_JSON OUT_MODEL
"""
import base64
import json
import sys

from sentencepiece import sentencepiece_model_pb2 as spm_pb2


def write_model(doc, out):
    """Writes the model of tokenizer.json `doc` (parsed) to `out`; returns the number of pieces."""
    vocab = doc["model"]["vocab"]
    if [p for p, _ in vocab[:4]] != ["<s>", "<pad>", "</s>", "<unk>"] or vocab[-1][0] != "<mask>":
        raise ValueError("not the XLM-R layout (<s> <pad> </s> <unk> ... <mask>)")
    charsmap = next((n["precompiled_charsmap"] for n in doc["normalizer"].get("normalizers", [doc["normalizer"]])
                     if n["type"] == "Precompiled"), None)
    m = spm_pb2.ModelProto()
    m.trainer_spec.model_type = spm_pb2.TrainerSpec.UNIGRAM
    if charsmap:
        m.normalizer_spec.name = "nmt_nfkc"
        m.normalizer_spec.precompiled_charsmap = base64.b64decode(charsmap)
    for piece, kind in [("<unk>", spm_pb2.ModelProto.SentencePiece.UNKNOWN),
                        ("<s>", spm_pb2.ModelProto.SentencePiece.CONTROL),
                        ("</s>", spm_pb2.ModelProto.SentencePiece.CONTROL)]:
        m.pieces.add(piece=piece, score=0.0, type=kind)
    for piece, score in vocab[4:-1]:
        m.pieces.add(piece=piece, score=score, type=spm_pb2.ModelProto.SentencePiece.NORMAL)
    with open(out, "wb") as f:
        f.write(m.SerializeToString())
    return len(m.pieces)


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        doc = json.load(f)
    print(f"{out}: {write_model(doc, out)} pieces")


if __name__ == "__main__":
    main()
