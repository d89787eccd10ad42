"""Multilingual text from Debian's iso-codes translations (.mo catalogues).

Used to train the test SentencePiece model and as the tokenizer parity corpus.
"""
import gettext
import glob
import os

LOCALE_DIR = "/usr/share/locale"
DOMAINS = ("iso_639-3", "iso_3166-1", "iso_3166-2", "iso_4217", "iso_15924")


def iso_strings(domains=DOMAINS):
    """Yields (locale, text) for every translated message, sorted for reproducibility."""
    for domain in domains:
        for path in sorted(glob.glob(os.path.join(LOCALE_DIR, "*", "LC_MESSAGES", domain + ".mo"))):
            locale = path.split(os.sep)[-3]
            with open(path, "rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog  # noqa: SLF001 - stdlib has no public accessor
            for key in sorted(k for k in catalog if isinstance(k, str) and k):
                text = catalog[key]
                if text:
                    yield locale, text
