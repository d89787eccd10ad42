"""Builds the Hugging Face fast XLM-R tokenizer from a bare SentencePiece model, as BAAI's tokenizer.json was built.

transformers 5.x turns `XLMRobertaTokenizerFast(vocab_file=...)` into a 5-token stub, so the conversion is done
explicitly with XLMRobertaConverter (the code path that produced the published tokenizer.json files).
"""
import sentencepiece
from tokenizers import AddedToken
from transformers import XLMRobertaTokenizerFast
from transformers.convert_slow_tokenizer import XLMRobertaConverter

# fairseq's special tokens come first; SentencePiece ids are shifted by +1 after them.
_SPECIAL_IDS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}


class _SlowTokenizerStandIn:
    """The few attributes XLMRobertaConverter reads from a slow tokenizer."""

    def __init__(self, spm_path):
        self.vocab_file = spm_path
        self.add_prefix_space = True
        self.legacy = True
        self.handle_byte_fallback = False

    def convert_tokens_to_ids(self, token):
        return _SPECIAL_IDS[token]


def spm_piece_count(spm_path):
    return sentencepiece.SentencePieceProcessor(model_file=spm_path).get_piece_size()


def build_fast_tokenizer(spm_path, model_max_length=8192):
    """Returns an XLMRobertaTokenizerFast with ids 0..3 = <s> <pad> </s> <unk>, spm ids + 1, <mask> last."""
    fast = XLMRobertaConverter(_SlowTokenizerStandIn(spm_path)).converted()
    tok = XLMRobertaTokenizerFast(tokenizer_object=fast, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                  cls_token="<s>", unk_token="<unk>", pad_token="<pad>",
                                  mask_token=AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False,
                                                        special=True),  # XLM-R's <mask> eats the space before it
                                  model_max_length=model_max_length)
    expected = spm_piece_count(spm_path) + 2
    if len(tok) != expected:
        raise RuntimeError(f"{spm_path}: fast tokenizer has {len(tok)} tokens, expected {expected}")
    return tok
