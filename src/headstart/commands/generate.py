"""`headstart generate`: text from a causal LM run with `transformers`' own `generate` (KV cache,
greedy or temperature / top-k / top-p sampling, stop strings). One `--prompt` streams its answer to
the terminal; `--prompts file.jsonl --out outputs.jsonl` answers every prompt, batched, left-padded.

Prompts go through the tokenizer's chat template when it has one (an instruct or align run keeps
it in `exported/hf/`), so the model sees what it was tuned on; `--chat false` feeds the raw text.

    headstart.generate(run="runs/dpo", prompt="Which language is this text in? ...")
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import TextStreamer

from headstart.adapt.causal_lm import load_causal_lm
from headstart.adapt.infer import default_device
from headstart.adapt.lm.config import GenerateConfig
from headstart.config import api_function
from headstart.data.text.instruct import parse_row, prompt_ids
from headstart.data.text.tokenizer import load_tokenizer
from headstart.errors import HeadstartError
from headstart.io import atomic_write
from headstart.models.family import split_name
from headstart.run import Run

__all__ = ["generate", "run"]
log = logging.getLogger("headstart")


def run(cfg: GenerateConfig) -> str | Path:
    """The generated text (`--prompt`), or the `--out` file written (`--prompts`)."""
    if (cfg.prompt is None) == (cfg.prompts is None):
        raise HeadstartError("pass one of --prompt and --prompts", fix="--prompt 'text' or --prompts file.jsonl")
    if cfg.prompts is not None and cfg.out is None:
        raise HeadstartError("--prompts needs --out", fix="pass --out outputs.jsonl")
    folder = Path(split_name(cfg.run)[1]) if cfg.run.startswith("hf:") else Path(cfg.run) / "exported" / "hf"
    tokenizer = load_tokenizer(folder)
    lm = load_causal_lm(cfg.run).hf_model().eval().to(default_device(cfg.accelerator))
    chat = bool(tokenizer.chat_template) if cfg.chat == "auto" else cfg.chat
    if chat and not tokenizer.chat_template:
        raise HeadstartError(f"{folder}'s tokenizer has no chat template", fix="pass --chat false")
    torch.manual_seed(cfg.seed)
    cut = PromptCut(prompt_budget(cfg))
    if cfg.prompt is not None:
        return answer([cut(_ids(tokenizer, cfg.prompt, chat))], lm, tokenizer, cfg, stream=True)[0]
    prompts = read_prompts(cfg.prompts)
    rows = []
    for start in range(0, len(prompts), cfg.batch_size):
        batch = prompts[start:start + cfg.batch_size]
        outputs = answer([cut(_ids(tokenizer, p, chat)) for p in batch], lm, tokenizer, cfg)
        rows += [{"prompt": p, "output": o} for p, o in zip(batch, outputs)]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    atomic_write(cfg.out, lambda f: f.write(text.encode("utf-8")))
    return cfg.out


def prompt_budget(cfg: GenerateConfig) -> int | None:
    """The most prompt tokens kept (None: all): `--max-prompt-tokens`, or with auto the budget the run
    was trained with (`prompt_tokens` in its results.json: what training and its exact match cut
    prompts to), so a long prompt is answered as it was scored."""
    if cfg.max_prompt_tokens != "auto":
        return int(cfg.max_prompt_tokens) or None
    if cfg.run.startswith("hf:"):
        return None
    recorded = Run(Path(cfg.run)).results().get("prompt_tokens")
    return int(recorded) if recorded else None


@dataclass
class PromptCut:
    """Prompt ids -> their last `budget` tokens, saying once that it cut."""

    budget: int | None
    said: bool = False

    def __call__(self, ids: list[int]) -> list[int]:
        if self.budget is None or len(ids) <= self.budget:
            return ids
        if not self.said:
            log.warning("a prompt of %d tokens keeps its last %d, as the run was trained (--max-prompt-tokens 0: "
                     "the whole prompt)", len(ids), self.budget)
            self.said = True
        return ids[-self.budget:]


def read_prompts(path: Path) -> list:
    """Each line's `prompt` (a string or messages) or `messages`; a bad line is a one-line error."""
    if not path.is_file():
        raise HeadstartError(f"no such file: {path}", fix="pass a JSONL file of prompts")
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if "messages" in row:  # a whole chat: generate the next assistant turn
                messages = row["messages"]
                out.append(messages[:-1] if messages and messages[-1].get("role") == "assistant" else messages)
            else:
                out.append(list(parse_row({**row, "response": "-"}, kind="sft", origin="").prompt))
        except (ValueError, TypeError, AttributeError) as err:
            raise HeadstartError(f"{path}:{number}: not a prompt ({err})",
                                 fix='write one {"prompt": "..."} or {"messages": [...]} a line') from None
    if not out:
        raise HeadstartError(f"{path} holds no prompt", fix='write one {"prompt": "..."} a line')
    return out


def _ids(tokenizer, prompt: str | list, chat: bool) -> list[int]:
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    if chat:
        return prompt_ids(tokenizer, messages)
    return tokenizer("\n".join(m["content"] for m in messages))["input_ids"]


@torch.no_grad()
def answer(prompts: list[list[int]], lm, tokenizer, cfg: GenerateConfig, *, stream: bool = False) -> list[str]:
    """The decoded continuations of `prompts` (token ids), left-padded into one batch."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    longest = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (longest - len(p)) + p for p in prompts], device=lm.device)
    mask = torch.tensor([[0] * (longest - len(p)) + [1] * len(p) for p in prompts], device=lm.device)
    sampling = cfg.temperature > 0
    options = {"do_sample": sampling, "max_new_tokens": cfg.max_new_tokens, "pad_token_id": pad,
               "eos_token_id": tokenizer.eos_token_id}
    if sampling:
        options.update(temperature=cfg.temperature, top_p=cfg.top_p, top_k=cfg.top_k or None)
    else:  # greedy: no sampling options, so transformers warns about none
        options.update(temperature=None, top_p=None, top_k=None)
    if cfg.stop:
        options.update(stop_strings=cfg.stop, tokenizer=tokenizer)
    streamer = TextStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True) if stream else None
    out = lm.generate(input_ids=ids, attention_mask=mask, streamer=streamer, **options)
    if stream:
        sys.stdout.flush()
    texts = tokenizer.batch_decode(out[:, longest:], skip_special_tokens=True)
    return [_cut(t, cfg.stop) for t in texts]


def _cut(text: str, stops: list[str]) -> str:
    """The text before the first stop string (generation stops after the token that completes it)."""
    ends = [text.find(s) for s in stops if s in text]
    return text[:min(ends)] if ends else text


generate = api_function(GenerateConfig, run, "generate",
                        "Generate text from a causal LM run; returns the text (--prompt) or the --out file.")
