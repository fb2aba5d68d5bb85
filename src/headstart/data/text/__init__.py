"""Text data: documents from files and named corpora, tokenizers, cached token ids, `TextSet`."""
