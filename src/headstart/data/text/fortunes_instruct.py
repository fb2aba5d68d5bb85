"""A verifiable instruction task built from the fortunes corpora: name the topic or the language.

- `fortunes-instruct-topic`: "<text> Which topic is this text about? Answer with one of: art,
  computers, ..." -> the topic (the English file the text came from, `fortunes-topic`);
- `fortunes-instruct-lang`: "<text> Which language is this text in? Answer with one of: english,
  german, ..." -> the language (`fortunes-lang`);
- `fortunes-instruct`: both, mixed in a seeded order.

A fixed seeded sample of each class is kept (`PER_CLASS`: all the topic task's training texts,
400 per language, 30 per class in the test splits, so a test split is class-balanced and small
enough to score on a CPU in seconds).

Every prompt names the answers it accepts, so the answer is one word checked by exact match,
and a model that never saw the task can still be scored zero-shot. The preference view of the
same examples (`kind="pref"`) keeps the right answer as `chosen`; `rejected` is a wrong class in
three of four examples and, in the fourth, a copy of the text's first words (the failure of a
model that continues the prompt instead of answering). Which one a text gets is a hash of the
text, so it never changes.

The splits are the fortunes corpora's own (a hash of each text's words): no `:test` text is in
any `:train` split, including the unlabeled `fortunes:train` a model is pretrained on.
"""

from __future__ import annotations

import hashlib

import numpy as np

from headstart.data.text.fortunes import LANGUAGES, open_fortunes
from headstart.data.text.instruct import Example

INSTRUCT_SETS = ("fortunes-instruct", "fortunes-instruct-topic", "fortunes-instruct-lang")
LANGUAGE_NAMES = {"en": "english", "de": "german", "es": "spanish", "it": "italian", "pl": "polish",
                  "ru": "russian", "cs": "czech", "pt": "portuguese"}
PER_CLASS = {("topic", "train"): None, ("lang", "train"): 400, ("topic", "test"): 30, ("lang", "test"): 30}
MAX_TEXT_CHARS = 160  # a text is cut at a word boundary before this (with a 4,096-token vocabulary most
# prompts still pass 96 tokens: their start is cut then, the same for every answer, see `instruct.encode`)
COPY_WORDS = 6
QUESTIONS = {"topic": "Which topic is this text about?", "lang": "Which language is this text in?"}
assert set(LANGUAGE_NAMES) == set(LANGUAGES)


def fortunes_examples(name: str, *, split: str, kind: str = "sft", seed: int = 0) -> list[Example]:
    """The examples of one of `INSTRUCT_SETS` (see module doc); `kind` "sft" or "pref"."""
    tasks = {"fortunes-instruct": ("topic", "lang"), "fortunes-instruct-topic": ("topic",),
             "fortunes-instruct-lang": ("lang",)}[name]
    out = [ex for task in tasks for ex in _task(task, split, kind)]
    if len(tasks) > 1:
        out = [out[i] for i in np.random.default_rng(seed).permutation(len(out))]
    return out


def _task(task: str, split: str, kind: str) -> list[Example]:
    corpus = open_fortunes("fortunes-topic" if task == "topic" else "fortunes-lang", split=split)
    names = corpus.classes if task == "topic" else [LANGUAGE_NAMES[c] for c in corpus.classes]
    keep = np.arange(len(corpus))
    cap = PER_CLASS[task, split]
    if cap is not None:  # a fixed seeded sample per class, the same for every caller
        g = np.random.default_rng(len(names))
        keep = np.sort(np.concatenate([g.permutation(np.flatnonzero(corpus.labels == c))[:cap]
                                       for c in range(len(names))]))
    question = f"{QUESTIONS[task]} Answer with one of: {', '.join(names)}."
    out = []
    for i in keep:
        text = _cut(corpus.texts[i])
        answer = names[int(corpus.labels[i])]
        prompt = ({"role": "user", "content": f"{text}\n\n{question}"},)
        origin = f"{corpus.origins[i]} ({task})"
        if kind == "sft":
            out.append(Example((*prompt, {"role": "assistant", "content": answer}), origin))
        else:
            out.append(Example(prompt, origin, answer, _rejected(text, answer, names)))
    return out


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[:MAX_TEXT_CHARS].rsplit(None, 1)[0] + " ..."


def _rejected(text: str, answer: str, names: list[str]) -> str:
    h = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
    if h % 4 == 3:
        return " ".join(text.split()[:COPY_WORDS])
    wrong = [n for n in names if n != answer]
    return wrong[(h // 4) % len(wrong)]
