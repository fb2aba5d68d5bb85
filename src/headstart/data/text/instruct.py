"""Instruction and preference data for causal language models: read, template, tokenize, batch.

- A supervised (SFT) example is a chat: `{"prompt": ..., "response": ...}` or
  `{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}` ending with an
  assistant turn. A preference example is `{"prompt", "chosen", "rejected"}` (`prompt` a string or
  a list of messages).
- The chat is rendered with the tokenizer's `chat_template` (the Hugging Face convention, so
  `save_pretrained` keeps it with the model); a tokenizer without one gets `CHAT_TEMPLATE`.
- Loss only on what the assistant says: every other token's label is `IGNORE` (-100). The
  rendered chat is tokenized piece by piece (each assistant turn apart from what precedes it),
  so the mask is exact whatever the tokenizer merges across a boundary.
- Batches are right-padded with `pad_id`, labels `IGNORE` there, and an explicit attention mask
  (a checkpoint whose pad token is its eos token still attends to the eos it must learn).

A bad JSONL line is skipped with a warning naming `file:line` (or raises when strict).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from headstart.data.decode import show_path
from headstart.data.text.corpus import Problems
from headstart.errors import HeadstartError

IGNORE = -100
ROLES = ("system", "user", "assistant")
# Alpaca-style headers: plain words a small model trained here can learn, and a prefix property
# (rendering a chat's first k turns gives a prefix of rendering all of them) the masking relies on
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if not loop.first %}\n\n{% endif %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}"
    "{% elif m['role'] == 'user' %}### Instruction:\n{{ m['content'] }}"
    "{% else %}### Response:\n{{ m['content'] }}{{ eos_token }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}\n\n### Response:\n{% endif %}"
)  # the turns' separator opens the next turn, so nothing follows an answer's eos

Chat = tuple[dict, ...]


@dataclass(frozen=True)
class Example:
    """One chat ending with the assistant turn to learn (SFT), or a prompt with two answers."""

    messages: Chat  # the prompt turns; for SFT the last one is the assistant's response
    origin: str  # file:line
    chosen: str | None = None
    rejected: str | None = None

    @property
    def prompt(self) -> Chat:
        return self.messages[:-1] if self.chosen is None else self.messages

    @property
    def answer(self) -> str:
        """The reference response: the last assistant turn, or the chosen one."""
        return self.chosen if self.chosen is not None else self.messages[-1]["content"]


def read_examples(path: str | os.PathLike, *, kind: str, strict: bool = False) -> list[Example]:
    """SFT (`kind="sft"`) or preference (`kind="pref"`) examples from a JSONL file (see module doc)."""
    path = Path(path)
    if not path.is_file():
        raise HeadstartError(f"no such file: {show_path(path)}", fix="pass a .jsonl file of instructions")
    problems = Problems(strict=strict)
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").split("\n"), 1):
        if not line.strip():
            continue
        try:
            out.append(parse_row(json.loads(line), kind=kind, origin=f"{show_path(path)}:{number}"))
        except (json.JSONDecodeError, ValueError) as err:
            problems.bad(str(path), number, str(err))
    problems.finish()
    if not out:
        fields = "prompt/response or messages" if kind == "sft" else "prompt/chosen/rejected"
        raise HeadstartError(f"{show_path(path)} holds no usable example", fix=f"write one JSON object a line "
                             f"with {fields}")
    return out


def parse_row(row: object, *, kind: str, origin: str) -> Example:
    """One JSONL row as an `Example`; ValueError says what is wrong with it."""
    if not isinstance(row, dict):
        raise ValueError(f"a JSON {type(row).__name__}, not an object")  # noqa: TRY004 - a bad line, not a bug
    if kind == "pref":
        missing = [k for k in ("prompt", "chosen", "rejected") if not isinstance(row.get(k), str | list)]
        if missing or not all(isinstance(row[k], str) and row[k].strip() for k in ("chosen", "rejected")):
            raise ValueError("needs a prompt and non-empty chosen and rejected strings")
        return Example(_prompt(row["prompt"]), origin, row["chosen"].strip(), row["rejected"].strip())
    if "messages" in row:
        messages = _messages(row["messages"])
        if messages[-1]["role"] != "assistant":
            raise ValueError("the messages must end with an assistant turn")
        return Example(messages, origin)
    if not (isinstance(row.get("prompt"), str) and isinstance(row.get("response"), str) and row["response"].strip()):
        raise ValueError("needs prompt and response strings (or messages)")
    return Example((*_prompt(row["prompt"]), {"role": "assistant", "content": row["response"].strip()}), origin)


def _prompt(value: str | list) -> Chat:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("empty prompt")
        return ({"role": "user", "content": value.strip()},)
    return _messages(value)


def _messages(value: object) -> Chat:
    if not isinstance(value, list) or not value:
        raise ValueError("messages must be a non-empty list")
    out = []
    for m in value:
        if not (isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str)):
            raise ValueError(f"each message needs a role ({'/'.join(ROLES)}) and a content string")
        out.append({"role": m["role"], "content": m["content"].strip()})
    return tuple(out)


def with_chat_template(tokenizer):
    """`tokenizer`, given `CHAT_TEMPLATE` when it has no chat template of its own."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def render(tokenizer, messages: Sequence[dict], *, generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=generation_prompt)


def prompt_ids(tokenizer, prompt: Sequence[dict]) -> list[int]:
    """Token ids of the prompt turns with the assistant's header: what generation continues."""
    return _ids(tokenizer, render(tokenizer, prompt, generation_prompt=True))


def encode(tokenizer, messages: Sequence[dict], *, max_length: int,
           answer_room: int | None = None) -> tuple[list[int], list[int]]:
    """(ids, labels) of a chat: labels are the ids on assistant turns, `IGNORE` elsewhere.

    The prompt (everything before the last answer) keeps its last `max_length - answer_room` tokens and
    the answer is cut to what is left. `InstructSet` gives one `answer_room` to every chat of a set, so
    a prompt is cut the same whatever its answer: where the answer starts never tells how long it is (a
    model learns that shortcut from left-cut chats, and teacher-forced scores then read it), and the
    two answers of a pair follow the very same prompt tokens. `answer_room` None: this chat's own answer
    length (the chat's end is kept, prompt cut only where the whole does not fit)."""
    ids, labels, start = _encode_whole(tokenizer, messages)
    return fit(ids, labels, start, max_length=max_length, answer_room=answer_room)


def _encode_whole(tokenizer, messages: Sequence[dict]) -> tuple[list[int], list[int], int]:
    """(ids, labels, where the last answer starts) of the whole chat; the start is `len(ids)` when the
    chat does not end with an answer."""
    ids: list[int] = []
    labels: list[int] = []
    done = ""
    start = 0
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            head = render(tokenizer, messages[:i], generation_prompt=True) if i else ""
            pieces = [(head, False), (render(tokenizer, messages[:i + 1]), True)]
        else:
            pieces = [(render(tokenizer, messages[:i + 1]), False)]
        for text, target in pieces:
            if not text.startswith(done):
                raise HeadstartError("the tokenizer's chat template does not render a chat's turns as a prefix "
                                     "of the whole chat", fix="use a chat template without per-turn rewriting")
            new = _ids(tokenizer, text[len(done):])
            start = len(ids) if target else len(ids) + len(new)
            ids += new
            labels += new if target else [IGNORE] * len(new)
            done = text
    return ids, labels, start


def fit(ids: list[int], labels: list[int], start: int, *, max_length: int,
        answer_room: int | None = None) -> tuple[list[int], list[int]]:
    """A whole chat cut to `max_length` (see `encode`); a chat without a final answer keeps its start."""
    if start >= len(ids):
        return ids[:max_length], labels[:max_length]
    room = len(ids) - start if answer_room is None else answer_room
    if answer_room is None and len(ids) <= max_length:
        return ids, labels
    keep = max(max_length - max(1, min(room, max_length)), 0)
    head = slice(max(start - keep, 0), start)
    tail = slice(start, start + max_length - (head.stop - head.start))
    return ids[head] + ids[tail], labels[head] + labels[tail]


def answer_room(answer_lengths: Sequence[int], max_length: int) -> int:
    """The tokens a set keeps for its answers: its longest (reference or chosen) answer, at most a
    quarter of `max_length` (longer answers are cut; the prompts keep the rest).

    Example:
        >>> answer_room([2, 5, 3], 96), answer_room([300], 96)
        (5, 24)
    """
    return max(1, min(max(answer_lengths, default=1), max_length // 4))


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


class InstructSet(torch.utils.data.Dataset):
    """Tokenized chats: item i is `([(ids, labels) per row], i)`; `rows` sequences per item (2 for a
    preference pair: chosen then rejected); the index lets a batch find values cached per example."""

    def __init__(self, examples: Sequence[Example], tokenizer, *, max_length: int) -> None:
        self.examples = list(examples)
        self.rows = 2 if self.examples and self.examples[0].chosen is not None else 1
        self.items: list[list[tuple[np.ndarray, np.ndarray]]] = []
        whole = []
        for ex in self.examples:
            answers = [ex.answer] if self.rows == 1 else [ex.chosen, ex.rejected]
            whole.append([_encode_whole(tokenizer, (*ex.prompt, {"role": "assistant", "content": a}))
                          for a in answers])
        # one room for the whole set, from the answers to learn (a pair's chosen one): see `encode`
        self.answer_room = answer_room([len(rows[0][0]) - rows[0][2] for rows in whole], max_length)
        for rows in whole:
            encoded = [fit(*row, max_length=max_length, answer_room=self.answer_room) for row in rows]
            self.items.append([(np.asarray(i, np.int64), np.asarray(lab, np.int64)) for i, lab in encoded])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
        return self.items[i], i

    def subset(self, indices: Sequence[int]) -> InstructSet:
        out = object.__new__(InstructSet)
        out.examples = [self.examples[i] for i in indices]
        out.items = [self.items[i] for i in indices]
        out.rows = self.rows
        out.answer_room = self.answer_room
        return out

    def num_tokens(self) -> int:
        return sum(len(ids) for item in self.items for ids, _ in item)

    def answer_tokens(self) -> tuple[int, ...]:
        """The token ids the answers use (every label that is not `IGNORE`), sorted."""
        used = {int(t) for item in self.items for _, labels in item for t in np.unique(labels) if t != IGNORE}
        return tuple(sorted(used))


@dataclass(frozen=True)
class PadCollate:
    """Batch of `InstructSet` items -> `(ids, labels, mask, index)`: the first three `(rows * B, T)`,
    right-padded, all chosen rows first and the rejected ones after (DPO's concatenated forward);
    `index` `(B,)` the items' positions in the set."""

    pad_id: int

    def __call__(self, items: Sequence[tuple[list[tuple[np.ndarray, np.ndarray]], int]]) -> tuple[torch.Tensor, ...]:
        seqs = [rows[r] for r in range(len(items[0][0])) for rows, _ in items]
        longest = max(len(ids) for ids, _ in seqs)
        ids = torch.full((len(seqs), longest), self.pad_id, dtype=torch.long)
        labels = torch.full((len(seqs), longest), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(seqs), longest), dtype=torch.long)
        for row, (i, lab) in enumerate(seqs):
            ids[row, :len(i)] = torch.from_numpy(i)
            labels[row, :len(lab)] = torch.from_numpy(lab)
            mask[row, :len(i)] = 1
        return ids, labels, mask, torch.tensor([i for _, i in items], dtype=torch.long)
