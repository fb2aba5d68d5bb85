"""Where preference data carries what demonstrations do not: SFT on instructions whose answers are partly
wrong (`--kind class`: a careless labeller) or partly in another form (`--kind form`: a labeller who
writes a sentence where the prompt asks for one word), then DPO on pairs that rank the wanted answer
above the demonstrated one.

    python bench/instruct_noisy.py --gpt runs/gpt [--kind class|form] [--noise 0.4] [--seeds 0 1 2]
                                   [--out bench/out/instruct-noisy]

`--gpt` is a finished gpt-mini next-token run (e.g. `bench/instruct.py`'s `seed0/gpt`). The training
instructions of `fortunes-instruct` are written as two JSONL files: `sft.jsonl`, where a seeded `--noise`
share of the answers is replaced by another class named in the prompt, and `prefs.jsonl`, the same prompts
with the right answer chosen and, as rejected, the wrong demonstration where there was one, else the
task's own rejected answer. Per seed: `finetune --task instruct --strategy full` on `sft.jsonl`, then
`align --method dpo` from it on `prefs.jsonl` (plain, and with `--sft-weight 1`: RPO), each scored by
`headstart evaluate` on the 583 test instructions; differences to SFT paired by seed, 95% t intervals.
The RPO row also trains on the chosen (right) answers, so its gain mixes the preference with cleaner
targets; the plain row is the preference alone, and the control row is RPO's NLL term alone (`finetune`
from the SFT run on the chosen answers, with the DPO runs' steps, batch and learning rate).

`--kind form`: a seeded `--noise` share of the answers is written as a sentence ("The language is german.",
"The topic is law."): the right class, not the one word the prompt asks for. The pairs prefer the one
word to that sentence where the demonstration was one, else to the task's own rejected answer. Besides
exact match (the one word) and preference accuracy on the task's test pairs, each row is scored on the
test prompts' own form pairs (the word against its sentence: `form pref. acc.`) and on whether greedy
decoding gives the right class in either form (`content`): a gain in exact match without one in
content is the form learned, not the task.

Measured 2026-12-03 (`--gpt` bench/instruct.py's seed-0 pretraining, 1,500 steps; 3 seeds):
- `--kind class` (ninth session, before prompts were cut alike for every answer, no control row; 2,764 of
  6,959 answers made wrong), test exact match / preference accuracy, mean: noisy SFT 44.5 / 80.0%; + DPO
  40.4 / 79.6% (exact match -4.1 points, paired 95% CI -7.1 to -1.0); + DPO + NLL 44.5 / 79.5% (+0.1, -0.6
  to +0.7). The preference adds nothing here.
- `--kind form --noise 0.5` (tenth session; 3,425 answers written as a sentence): exact match / form pref.
  acc. / content: SFT 21.0 / 22.7 / 41.8%; + DPO 30.2 / 100.0 / 30.2%; + DPO + NLL 44.8 / 99.3 / 44.8%
  (exact match +23.7, 95% CI +20.1 to +27.4; form pref. acc. +76.6, +75.2 to +77.9); control 45.1 / 86.3 /
  45.1%: the exact match comes from the NLL term, the preference term adds +12.9 points (+3.3 to +22.5) of
  form preference accuracy over it. The README has the table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["--accelerator", "cpu", "--precision", "32", "--num-workers", "0", "--no-progress",
          "--checkpoint-every", "off", "--overwrite", "--seq-len", "96"]
ROWS = {"sft": "SFT full on noisy answers", "dpo": "+ DPO on right > wrong", "dpo-nll": "+ DPO + NLL (RPO)",
        "chosen": "+ SFT on the chosen answers (control)"}


def sentence(prompt: str, answer: str) -> str:
    """The answer as a sentence (`--kind form`): right in content, not in the form the prompt asks."""
    return f"The {'language' if 'Which language' in prompt else 'topic'} is {answer}."


def write_data(out: Path, noise: float, kind: str = "class") -> int:
    """sft.jsonl and prefs.jsonl under `out` (see module doc); returns how many answers were changed."""
    from headstart.data.text.fortunes_instruct import fortunes_examples

    sft = fortunes_examples("fortunes-instruct", split="train", kind="sft")
    pairs = fortunes_examples("fortunes-instruct", split="train", kind="pref")
    rng = np.random.default_rng(1234)
    sft_rows, pref_rows, wrong = [], [], 0
    for ex, pair in zip(sft, pairs, strict=True):
        prompt = ex.prompt[0]["content"]
        names = prompt.rsplit("Answer with one of: ", 1)[1].rstrip(".").split(", ")
        answer, rejected = ex.answer, pair.rejected
        if rng.random() < noise:
            if kind == "form":
                answer = rejected = sentence(prompt, ex.answer)
            else:
                answer = rejected = str(rng.choice([n for n in names if n != ex.answer]))
            wrong += 1
        sft_rows.append({"prompt": prompt, "response": answer})
        pref_rows.append({"prompt": prompt, "chosen": ex.answer, "rejected": rejected})
    chosen_rows = [{"prompt": r["prompt"], "response": r["chosen"]} for r in pref_rows]
    for name, rows in (("sft.jsonl", sft_rows), ("prefs.jsonl", pref_rows), ("chosen.jsonl", chosen_rows)):
        (out / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return wrong


def headstart(*args: str) -> None:
    cmd = [sys.executable, "-m", "headstart.cli.main", *args]
    print("+", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def evaluate(run: Path, kind: str = "class") -> dict:
    """Exact match and preference accuracy of `run` on the fortunes-instruct test split (`headstart evaluate`,
    which merges them into the run's results.json); `--kind form` adds the form pairs and content."""
    if "evaluation" not in json.loads((run / "results.json").read_text()):
        headstart("evaluate", "--run", str(run), "--data", "fortunes-instruct", "--no-progress")
    e = json.loads((run / "results.json").read_text())["evaluation"]
    out = {"exact_match": e["exact_match"], "pref_acc": (e.get("preference") or {}).get("accuracy")}
    return {**out, **form_scores(run)} if kind == "form" else out


def form_scores(run: Path) -> dict:
    """{form_pref_acc, content} of `run` on the test prompts (see module doc), cached in form.json."""
    cached = run / "form.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    from headstart.adapt.causal_lm import load_causal_lm
    from headstart.adapt.instruct_infer import answer_logps, greedy_matches
    from headstart.data.text.fortunes_instruct import fortunes_examples
    from headstart.data.text.instruct import Example, InstructSet
    from headstart.models.factory import run_tokenizer
    from headstart.run import Run

    tok, model = run_tokenizer(run), load_causal_lm(str(run))
    seq_len = int(Run(run).config.get("seq_len") or 96)
    test = fortunes_examples("fortunes-instruct", split="test")
    said = [sentence(e.prompt[0]["content"], e.answer) for e in test]
    pairs = [Example(e.prompt, e.origin, e.answer, s) for e, s in zip(test, said)]
    logps, _ = answer_logps(model, InstructSet(pairs, tok, max_length=seq_len))
    # each form's set cuts its prompts to its own answer room: the sentence's prompts 2-3 tokens shorter
    word = greedy_matches(model, InstructSet(test, tok, max_length=seq_len))
    as_sentence = greedy_matches(model, InstructSet(
        [Example((*e.prompt, {"role": "assistant", "content": s}), e.origin) for e, s in zip(test, said)],
        tok, max_length=seq_len))
    out = {"form_pref_acc": float(np.mean(logps[:, 0] > logps[:, 1])), "content": float(np.mean(word | as_sentence))}
    cached.write_text(json.dumps(out))
    return out


def one_seed(seed: int, a: argparse.Namespace) -> dict[str, dict]:
    runs = a.out / f"seed{seed}"
    seeded = ["--seed", str(seed), *COMMON]
    if not (runs / "sft" / "results.json").exists():
        headstart("finetune", "--from", str(a.gpt), "--data", str(a.out / "sft.jsonl"), "--task", "instruct",
                  "--strategy", "full", "--steps", str(a.sft_steps), "--batch-size", "16", *seeded,
                  "--out", str(runs / "sft"))
    for name, weight in (("dpo", "0"), ("dpo-nll", "1")):
        if not (runs / name / "results.json").exists():
            headstart("align", "--from", str(runs / "sft"), "--data", str(a.out / "prefs.jsonl"), "--method", "dpo",
                      "--sft-weight", weight, "--steps", str(a.dpo_steps), "--batch-size", "8", *seeded,
                      "--out", str(runs / name))
    if not (runs / "chosen" / "results.json").exists():  # RPO's NLL term alone: its steps, pairs' batch and LR
        lr = yaml.safe_load((runs / "dpo-nll" / "config.yaml").read_text())["lr"]
        headstart("finetune", "--from", str(runs / "sft"), "--data", str(a.out / "chosen.jsonl"), "--task", "instruct",
                  "--strategy", "full", "--steps", str(a.dpo_steps), "--batch-size", "8", "--lr", str(lr), *seeded,
                  "--out", str(runs / "chosen"))
    return {row: evaluate(runs / name, a.kind) for name, row in ROWS.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gpt", type=Path, required=True, help="a finished gpt-mini next-token run")
    p.add_argument("--kind", choices=("class", "form"), default="class",
                   help="class: answers made wrong; form: answers written as a sentence (see the module doc)")
    p.add_argument("--noise", type=float, default=0.4, help="share of the SFT answers changed")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--sft-steps", type=int, default=600)
    p.add_argument("--dpo-steps", type=int, default=200)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "instruct-noisy")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    wrong = write_data(a.out, a.noise, a.kind)
    per_seed = [one_seed(seed, a) for seed in a.seeds]
    from headstart.eval.stats import mean_ci, paired_difference

    def fmt(e) -> str:
        return f"{100 * e.mean:+.1f}" + ("" if e.low is None else f" ({100 * e.low:+.1f} to {100 * e.high:+.1f})")

    names = {"exact_match": "exact match", "pref_acc": "pref. acc.", "form_pref_acc": "form pref. acc.",
             "content": "content"}
    keys = [k for k in names if k in per_seed[0][ROWS["sft"]]]
    changed = "written as a sentence" if a.kind == "form" else "made wrong"
    title = (f"{wrong} SFT answers {changed} ({a.noise:.0%}); {len(a.seeds)} seed(s); means, and paired "
             "differences to SFT with 95% t intervals, in points")
    lines = [title,
             "| row | " + " | ".join(names[k] for k in keys) + " | " + " | ".join(f"{names[k]} - SFT" for k in keys)
             + " |", "|---" * (1 + 2 * len(keys)) + "|"]
    base = ROWS["sft"]
    for row in ROWS.values():
        means, diffs = [], []
        for k in keys:
            values = [s[row][k] for s in per_seed]
            means.append(f"{100 * mean_ci(values).mean:.1f}%")
            diffs.append("-" if row == base else fmt(paired_difference(values, [s[base][k] for s in per_seed])))
        lines.append(f"| {row} | " + " | ".join(means) + " | " + " | ".join(diffs) + " |")
    text = "\n".join(lines)
    print(text)
    (a.out / "table.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
