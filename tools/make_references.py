"""Computes the float64 reference outputs (what FlagEmbedding / transformers compute) for a BGE-M3 or reranker folder.

Usage: python3 tools/make_references.py MODEL_DIR OUT_JSON [--texts FILE] [--max-length N]
MODEL_DIR is a folder in the layout of BAAI/bge-m3 (embedder: sparse_linear.pt present) or BAAI/bge-reranker-v2-m3.
--texts: a JSON file {"texts": [...], "pairs": [[query, passage], ...], "short_texts": [...], "short_pairs": [...]}
replacing the built-in lists (short_*: the section cut at SHORT_MAX_LENGTH / SHORT_PAIR_MAX_LENGTHS).
--max-length: the default section's length (default: min(model_max_length, max_position_embeddings - 2)).
Every sequence runs alone through the model (no padding), so the outputs are exact up to float64 rounding.
Formulas: /work/shared/DESIGN.md "The reference, exactly".
"""
import argparse
import json
import os

import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

M3_WEIGHTS = [0.4, 0.2, 0.4]  # dense, sparse, colbert: the BGE-M3 README's advice
SHORT_MAX_LENGTH = 16  # second section: truncation of singles at a small length
# Pairs are cut at an even and an odd length: with an odd budget, longest_first's split of the tokens is uneven.
SHORT_PAIR_MAX_LENGTHS = (16, 17)
SPECIAL_IDS = {0, 1, 2, 3}  # <s> <pad> </s> <unk>: FlagEmbedding's unused_tokens for the sparse output

_LONG = ("The Republic of Estonia is a country in Northern Europe. It borders the Baltic Sea to the north and west, "
         "Latvia to the south and Russia to the east. Its capital, Tallinn, lies on the Gulf of Finland. "
         "Die Bundesrepublik Deutschland liegt in Mitteleuropa und grenzt an Dänemark, Polen, Tschechien, "
         "Österreich, die Schweiz, Frankreich, Luxemburg, Belgien und die Niederlande. "
         "Российская Федерация — крупнейшее по площади государство мира.")

TEXTS = [
    "",
    "a",
    "Germany",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "Berlin Berlin Berlin is the capital of Germany, and Berlin is also a state.",
    "the the the the the",
    "Die Hauptstadt von Österreich ist Wien.",
    "Le français est parlé en Belgique, en Suisse et au Canada.",
    "¿Dónde está la biblioteca? Está en España.",
    "Москва — столица России.",
    "Κυπριακή Δημοκρατία",
    "جمهورية مصر العربية",
    "מדינת ישראל",
    "भारत गणराज्य",
    "中华人民共和国 中华人民共和国",
    "日本国の首都は東京です。",
    "대한민국",
    "ราชอาณาจักรไทย",
    "საქართველო",
    "Việt Nam",
    "Türkiye Cumhuriyeti",
    "Rzeczpospolita Polska",
    "I love 🍕 and 🚀!",
    "emoji only: 😀😀😀",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ﬁligree Ⅻ",
    "☃ ♞ ⌘ ∮",
    "  leading,   inner   and trailing spaces  ",
    "tab\tand\nnewline",
    "ISO 3166-1 alpha-2: DE, FR, IT; numbers 3.14159 and 2,718.",
    "https://example.org/path?query=1&x=y",
    "e\u0301 versus \u00e9",
    "zero\u200bwidth",
    "UPPER lower MiXeD",
    "Saint Helena, Ascension and Tristan da Cunha",
    "Bosnia and Herzegovina",
    "Lao People's Democratic Republic",
    "Kingdom of Norway; Kongeriket Norge; Norgga gonagasriika",
    _LONG,
    _LONG + " " + _LONG,
]

PAIRS = [
    ("What is the capital of France?", "Paris is the capital and most populous city of France."),
    ("What is the capital of France?", "Berlin is the capital of Germany."),
    ("capital of Germany", "Die Hauptstadt von Deutschland ist Berlin."),
    ("столица России", "Москва — столица России."),
    ("日本の首都", "日本国の首都は東京です。"),
    ("Norway", "Kingdom of Norway; Kongeriket Norge"),
    ("", "An empty query."),
    ("pizza", "I love 🍕 and 🚀!"),
    ("Which countries border Germany?", _LONG),
    ("Estonia Estonia " + _LONG, _LONG),
]

# Singles and pairs for the short section: long enough that most are cut, including pairs whose two sides are both
# long (longest_first splits the budget; equal lengths are a tie) and pairs where only one side is long.
SHORT_TEXTS = [
    "What is the capital of France?",
    "Berlin Berlin Berlin is the capital of Germany, and Berlin is also a state.",
    "Российская Федерация — крупнейшее по площади государство мира.",
    "I love 🍕 and 🚀!",
    _LONG,
]
SHORT_PAIRS = [
    ("Norway", "Kingdom of Norway; Kongeriket Norge; Norgga gonagasriika"),
    ("Kingdom of Norway; Kongeriket Norge; Norgga gonagasriika", "Norway"),
    ("Saint Helena, Ascension and Tristan da Cunha", "Lao People's Democratic Republic"),
    ("Which countries border Germany?", _LONG),
    ("Kingdom of Norway; Kongeriket Norge", "Kingdom of Norway; Kongeriket Norge"),
    ("a", "b"),
]


def load_texts(path):
    """Returns (texts, pairs, short_texts, short_pairs): the built-in lists or those from a JSON file."""
    if path is None:
        return TEXTS, PAIRS, SHORT_TEXTS, SHORT_PAIRS
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    pairs = [tuple(p) for p in data.get("pairs", [])]
    return data.get("texts", []), pairs, data.get("short_texts", []), [tuple(p) for p in data.get("short_pairs", [])]


def is_embedder(model_dir):
    return os.path.exists(os.path.join(model_dir, "sparse_linear.pt"))


def default_max_length(tokenizer, config):
    return min(tokenizer.model_max_length, config.max_position_embeddings - 2)


def _floats(t):
    return [float(x) for x in t.tolist()]


def _load_linear(path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state["weight"].double(), state["bias"].double()


class M3Reference:
    """BGE-M3's three outputs for one text, as FlagEmbedding's BGEM3FlagModel computes them, in float64."""

    def __init__(self, model_dir):
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").double().eval()
        self.sparse_w, self.sparse_b = _load_linear(os.path.join(model_dir, "sparse_linear.pt"))  # F64 [1, H], [1]
        self.colbert_w, self.colbert_b = _load_linear(os.path.join(model_dir, "colbert_linear.pt"))  # F64 [H, H], [H]
        self.max_length = default_max_length(self.tokenizer, self.model.config)

    @torch.no_grad()
    def embed(self, text, max_length):
        ids = self.tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
        h = self.model(input_ids=torch.tensor([ids])).last_hidden_state[0]  # F64 [n, H]
        dense = torch.nn.functional.normalize(h[0], dim=-1)
        token_weights = torch.relu(h @ self.sparse_w.T + self.sparse_b)[:, 0]  # F64 [n]
        sparse = {}
        for token_id, w in zip(ids, token_weights.tolist()):
            if token_id not in SPECIAL_IDS and w > 0 and w > sparse.get(str(token_id), 0.0):
                sparse[str(token_id)] = w
        colbert = torch.nn.functional.normalize(h[1:] @ self.colbert_w.T + self.colbert_b, dim=-1)  # F64 [n - 1, H]
        return {"text": text, "max_length": max_length, "ids": ids, "dense": _floats(dense), "sparse": sparse,
                "colbert": [_floats(row) for row in colbert]}

    def score(self, query, passage, max_length):
        q = self.embed(query, max_length)
        p = self.embed(passage, max_length)
        dense = sum(a * b for a, b in zip(q["dense"], p["dense"]))
        sparse = sum(w * p["sparse"][k] for k, w in q["sparse"].items() if k in p["sparse"])
        qc = torch.tensor(q["colbert"], dtype=torch.float64)
        pc = torch.tensor(p["colbert"], dtype=torch.float64)
        colbert = float((qc @ pc.T).max(dim=1).values.mean())
        wd, ws, wc = M3_WEIGHTS
        return {"query": query, "passage": passage, "dense": dense, "sparse": sparse, "colbert": colbert,
                "sparse+dense": (wd * dense + ws * sparse) / (wd + ws),
                "colbert+sparse+dense": (wd * dense + ws * sparse + wc * colbert) / (wd + ws + wc)}


class RerankerReference:
    """The cross-encoder's logit and sigmoid score for one (query, passage) pair, in float64."""

    def __init__(self, model_dir):
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, attn_implementation="eager").double().eval()
        self.max_length = default_max_length(self.tokenizer, self.model.config)

    @torch.no_grad()
    def rerank(self, query, passage, max_length):
        ids = self.tokenizer(query, passage, truncation=True, max_length=max_length)["input_ids"]
        logit = float(self.model(input_ids=torch.tensor([ids])).logits[0, 0])
        score = float(torch.sigmoid(torch.tensor(logit, dtype=torch.float64)))
        return {"query": query, "passage": passage, "max_length": max_length, "ids": ids, "logit": logit,
                "score": score}


def compute_reference(model_dir, texts_file=None, max_length=None):
    """Returns the reference.json content for a model folder."""
    texts, pairs, short_texts, short_pairs = load_texts(texts_file)
    out = {"model": os.path.basename(os.path.normpath(model_dir)), "weights": M3_WEIGHTS}
    if is_embedder(model_dir):
        ref = M3Reference(model_dir)
        length = max_length or ref.max_length
        out.update(kind="embedder", max_length=length)
        out["embed"] = ([ref.embed(t, length) for t in texts] +
                        [ref.embed(t, min(SHORT_MAX_LENGTH, length)) for t in short_texts])
        out["score"] = [ref.score(q, p, length) for q, p in pairs]
    else:
        ref = RerankerReference(model_dir)
        length = max_length or ref.max_length
        out.update(kind="reranker", max_length=length)
        out["rerank"] = ([ref.rerank(q, p, length) for q, p in pairs] +
                         [ref.rerank(q, p, min(short, length)) for short in SHORT_PAIR_MAX_LENGTHS
                          for q, p in short_pairs])
    return out


def write_json(data, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("out_json")
    ap.add_argument("--texts", help="JSON file with texts/pairs/short_texts/short_pairs lists")
    ap.add_argument("--max-length", type=int, help="default: min(model_max_length, max_position_embeddings - 2)")
    args = ap.parse_args()
    write_json(compute_reference(args.model_dir, args.texts, args.max_length), args.out_json)


if __name__ == "__main__":
    main()
