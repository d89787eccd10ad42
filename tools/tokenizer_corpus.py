"""Strings for the tokenizer fixtures: Debian iso-codes translations sampled per Unicode script, hand-made edge
cases, and random strings that stress grapheme clustering and the normalization rules.

Used by make_tokenizer_reference.py and make_tokenizer_variants.py.
"""
import base64
import collections
import struct

import regex

from iso_corpus import iso_strings

SCRIPTS = ["Latin", "Cyrillic", "Greek", "Armenian", "Georgian", "Hebrew", "Arabic", "Syriac", "Thaana", "Nko",
           "Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Oriya", "Tamil", "Telugu", "Kannada", "Malayalam",
           "Sinhala", "Thai", "Lao", "Tibetan", "Myanmar", "Khmer", "Mongolian", "Ethiopic", "Cherokee",
           "Canadian_Aboriginal", "Han", "Hiragana", "Katakana", "Hangul", "Bopomofo", "Yi", "Tifinagh", "Ol_Chiki",
           "Adlam", "Javanese", "Balinese", "Runic", "Ogham", "Coptic", "Glagolitic", "Gothic", "Linear_B",
           "Cuneiform", "Egyptian_Hieroglyphs", "Braille"]
SCRIPT_RES = [(s, regex.compile(r"\p{Script=%s}" % s)) for s in SCRIPTS]
PER_SCRIPT = {"Latin": 400, "Cyrillic": 150}
PER_SCRIPT_DEFAULT = 70


def charsmap_keys(normalizer):
    """Source strings of the normalization rules of a tokenizer.json normalizer (the darts trie in its Precompiled)."""
    normalizers = normalizer["normalizers"]
    blob = base64.b64decode(next(n for n in normalizers if n["type"] == "Precompiled")["precompiled_charsmap"])
    size = struct.unpack("<I", blob[:4])[0]
    units = struct.unpack("<%dI" % (size // 4), blob[4:4 + size])

    def offset(u):
        return (u >> 10) << ((u & (1 << 9)) >> 6)

    keys, stack = [], [(offset(units[0]), b"")]
    while stack:
        node, prefix = stack.pop()
        for c in range(1, 256):
            child = node ^ c
            if child < len(units) and units[child] & ((1 << 31) | 0xFF) == c:
                key = prefix + bytes([c])
                if (units[child] >> 8) & 1:
                    keys.append(key.decode("utf-8"))
                stack.append((child ^ offset(units[child]), key))
    return sorted(keys)


def script_of(ch):
    for name, r in SCRIPT_RES:
        if r.match(ch):
            return name
    return None


def corpus_sample(rnd):
    """Iso-codes strings, up to a quota per script (a string counts for every script among its characters)."""
    by_script = collections.defaultdict(list)
    for _, text in iso_strings():
        for s in {script_of(c) for c in text} - {None}:
            by_script[s].append(text)
    chosen = []
    for s in sorted(by_script):
        texts = sorted(set(by_script[s]))
        chosen += rnd.sample(texts, min(len(texts), PER_SCRIPT.get(s, PER_SCRIPT_DEFAULT)))
    return list(dict.fromkeys(chosen))


def edge_cases():
    spaces = ["\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x85", "\xa0", "\u1680", "\u180e", "\u2000", "\u2001",
              "\u2002", "\u2003", "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u2028",
              "\u2029", "\u202f", "\u205f", "\u3000", "\u2581"]
    controls = [chr(c) for c in list(range(0x00, 0x20)) + [0x7F]] + [chr(c) for c in range(0x80, 0xA0, 5)] + [
        "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\ufeff", "\u2060", "\u00ad", "\u061c", "\u202e",
        "\u2066", "\ufffc", "\ufffd"]
    cases = ["", " ", "  ", "   ", "\t", "\n", "\r\n", " \t\n\r ", "a", " a", "a ", "  a  ", "a  b", "a   b",
             "a \t b", "a\tb", "a\nb", "a\r\nb", "a\rb", "\n\nparagraph\n\n", " leading", "trailing ", "  both  "]
    cases += [f"a{s}b" for s in spaces] + [f"{s}x{s}" for s in spaces] + [s * 3 for s in spaces]
    cases += [f"a{c}b" for c in controls] + [c for c in controls[:6]] + ["\x00\x00", "x\x00 y\x00"]
    cases += ["👍", "👍🏽", "👍🏿 ok", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🏴‍☠️", "❤️", "❤", "🇫🇷", "🇫🇷🇩🇪", "🇫🇷🇩", "1️⃣", "#️⃣",
              "👩🏽‍💻 codes", "😀😃😄😁", "🤷‍♀️", "🧑🏻‍🤝‍🧑🏿", "☺︎", "✌🏼", "a👍b", "emoji at end 🎉"]
    cases += ["e\u0301", "\u00e9", "A\u030a", "\u00c5", "\u212b", "a\u0301\u0301", "a\u0301\u0300\u0302",
              "\uff21\u0301", "\uff2c\u0301", "\ufb01\u0301", "\u00b4\u0301", "\u0301", " \u0301", "\u0301a",
              "Tie\u0302\u0301ng Vie\u0323\u0302t", "Ti\u1ebfng Vi\u1ec7t", "n\u0303", "\u00f1", "o\u0308",
              "\u1112\u1161\u11ab\u1100\u1173\u11af", "\ud55c\uae00", "\u3131\u314f", "\u1100\u1161", "\uac00\u11a8",
              "\u0915\u094d\u0937", "\u091c\u094d\u091e", "\u0928\u093c", "\u0929", "\u0915\u093c",
              "\u0dc1\u0dca\u200d\u0dbb\u0dd3", "\u1780\u17d2\u179f", "\u0e01\u0e34\u0e4a", "\u0623", "\u0627\u0654",
              "\u05e9\u05c1\u05b8", "\u0b95\u0bcd\u0bb7", "\u0b92\u0bd7", "\u0b94", "\u1004\u103a\u1039"]
    cases += ["\uff21\uff22\uff23\uff11\uff12\uff13", "\uff48\uff45\uff4c\uff4c\uff4f\u3000\uff57\uff4f\uff52",
              "\uff1c\uff53\uff1e", "\uff1c\uff0f\uff53\uff1e", "\uff1c\uff4d\uff41\uff53\uff4b\uff1e",
              "\ufe64pad\ufe65", "\ufe64unk\ufe65 x", "\uff8a\uff9d\uff76\uff78", "\uff76\uff9e", "\u3300", "\u337f",
              "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522",
              "\u2160\u2161\u2162", "\u2460\u2461\u2462", "\ufdfa", "\ufb00\ufb03", "\u2122", "\u00bd", "\u00b2",
              "x\u00b2+y\u00b2", "\u2474", "\u33a1", "\u2103", "\u01c4", "\u0132", "\u1e9b\u0323"]
    cases += ["<s>", "</s>", "<pad>", "<unk>", "<mask>", "a<s>b", "a <mask> b", "a<mask>b", "<s><s>", "<s", "s>",
              "<<s>>", "</s >", "<S>", "<mask", "x<unk>y", "<s>hello</s>", " <s> ", "<pad>  x", "<mask><mask>",
              "  <s>  ", "\t<mask>\n", "<s>\u0301", "text </s> more", "<unk> <unk>"]
    cases += ["\u2581", "a\u2581b", "\u2581\u2581", " \u2581 ", "\u2581hello", "hello\u2581"]
    cases += ["a" * 300, "Supercalifragilisticexpialidocious" * 8, "\u65e5\u672c\u8a9e" * 60,
              "\U0001f600" * 40, "\u0915\u094d" * 30, "x" * 40 + " " * 40 + "y" * 40, "ab " * 200,
              "Donaudampfschifffahrtsgesellschaftskapit\u00e4nswitwe", "pneumonoultramicroscopicsilicovolcanoconiosis"]
    cases += ["12345", "3.14159", "1,000,000", "0x7FFF", "2024-01-31", "!!!", "???", "...", "\u2014\u2013-",
              "\u00ab\u00bb", "\u201cquoted\u201d", "(a)[b]{c}", "$\u20ac\u00a3\u00a5", "100%", "a-b_c",
              "http://example.com/a?b=c&d=e#f", "user@example.com", "#hashtag @mention", "C++ / C#", ":-)",
              "\u00bfQu\u00e9?", "\u00a1Hola!", "\u0661\u0662\u0663", "\u0967\u0968\u0969", "\uff10\uff19",
              "////", "\\\\", "\"'`", "~^|", "...?!...", "\u3002\u3001\uff01"]
    cases += ["Hello \u043c\u0438\u0440 \u4e16\u754c \u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd "
              "\u0928\u092e\u0938\u094d\u0924\u0947", "abc\u0430\u0431\u0432", "\u6771\u4eacTokyo\u6771\u4eac",
              "\u0391\u03b8\u03ae\u03bd\u03b1 Athens", "\u10d7\u10d1\u10d8\u10da\u10d8\u10e1\u10d8 Tbilisi"]
    cases += ["\ue000", "\U0010fffd", "\uffff", "\U000e0001\U000e0065\U000e006e", "\u0378", "\U00020000",
              "\U00010000", "\U00012000", "\U00013000", "\u2800\u2801", "\ua000", "\u16a0\u16a1", "\u1680\u1681"]
    return list(dict.fromkeys(cases))


def stress_strings(rnd, keys, n):
    """Random strings over characters that stress grapheme clusters and the normalization rules."""
    def chars(prop):
        r = regex.compile(prop)
        return [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and r.match(chr(c))]

    pools = [chars(r"\p{Grapheme_Cluster_Break=%s}" % g) for g in
             ["Extend", "SpacingMark", "Prepend", "ZWJ", "Regional_Indicator", "L", "V", "T", "Control"]]
    pools += [chars(r"\p{Extended_Pictographic}"), chars(r"\p{White_Space}") + ["\u2581", "\u200b"],
              [k for k in keys if len(k) == 1], keys, [chr(c) for c in range(0x20, 0x7F)] + [" "] * 10,
              ["<s>", "</s>", "<pad>", "<unk>", "<mask>", "<", ">", "\uff1c", "\uff1e", "\uff53"]]
    out = []
    for _ in range(n):
        use = rnd.sample(pools, rnd.randint(1, 4))
        out.append("".join(rnd.choice(rnd.choice(use)) for _ in range(rnd.randint(1, 16))))
    return out
