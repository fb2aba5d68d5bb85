"""`open_examples`: the entry point for an instruction or preference `--data`, as `open_text` is for
documents: a named set (`fortunes-instruct[-topic|-lang]`, optionally `:train` / `:test`) or a
`.jsonl` file (the same file whatever the split)."""

from __future__ import annotations

import json

from headstart.data.specs import parse_spec
from headstart.data.text.fortunes_instruct import INSTRUCT_SETS, fortunes_examples
from headstart.data.text.instruct import Example, read_examples
from headstart.errors import HeadstartError

KINDS = ("sft", "pref")


def open_examples(spec: str, *, split: str = "train", kind: str = "sft", strict: bool = False) -> list[Example]:
    """Examples of `spec` (see module doc).

    Args:
        spec: a named set or a JSONL file (`prompt`/`response`, `messages`, or `prompt`/`chosen`/`rejected`).
        split: "train" or "test" of a named set.
        kind: "sft" (a response to learn) or "pref" (a chosen and a rejected response).
        strict: raise on the first bad line instead of skipping it with a warning.

    Example:
        >>> open_examples("fortunes-instruct-topic:test")[0].answer
        'computers'
    """
    if kind not in KINDS:
        raise HeadstartError(f"unknown example kind {kind!r}", fix=f"use one of: {', '.join(KINDS)}")
    target, split = parse_spec(spec, split, names=INSTRUCT_SETS, accepted="a .jsonl file of instructions")
    if target in INSTRUCT_SETS:
        return fortunes_examples(target, split=split, kind=kind)
    return read_examples(target, kind=kind, strict=strict)


def eval_views(spec: str, *, split: str = "test") -> tuple[list[Example], list[Example] | None]:
    """(instructions with reference answers, preference pairs or None) to score a model on: a named
    set gives both; a JSONL file of pairs gives both (the chosen answer is the reference); a file of
    instructions gives the first only."""
    target, split = parse_spec(spec, split, names=INSTRUCT_SETS, accepted="a .jsonl file of instructions")
    if target in INSTRUCT_SETS:
        return fortunes_examples(target, split=split), fortunes_examples(target, split=split, kind="pref")
    if not is_preference_file(target):
        return read_examples(target, kind="sft"), None
    pairs = read_examples(target, kind="pref")
    return [Example((*p.prompt, {"role": "assistant", "content": p.chosen}), p.origin) for p in pairs], pairs


def is_preference_file(path: str) -> bool:
    """Whether the first object of a JSONL file has a `chosen` field."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = next((line for line in f if line.strip()), "{}")
        return "chosen" in json.loads(first)
    except (OSError, ValueError, TypeError):
        return False


def has_test_split(spec: str) -> bool:
    """Whether `spec` is a named set (with its own held-out test split)."""
    return spec.partition(":")[0] in INSTRUCT_SETS
