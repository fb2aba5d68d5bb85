"""Text data: documents from files and named corpora, tokenizers, cached token ids, `TextSet`.

Only the light modules are re-exported here: `data/sources.py` imports this package on
every start, and `tokenizer`, `tokens` and `textset` import `transformers` (about 3 s), so
they are imported from their own modules where they are used.
"""

from headstart.data.text.corpus import BadText, BadTextWarning, Corpus
from headstart.data.text.fortunes import NAMED_TEXT, open_fortunes
from headstart.data.text.readers import read_corpus
from headstart.data.text.sources import is_text_spec, open_text

__all__ = ["NAMED_TEXT", "BadText", "BadTextWarning", "Corpus", "is_text_spec", "open_fortunes", "open_text",
           "read_corpus"]
