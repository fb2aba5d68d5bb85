"""Where preference data carries what demonstrations do not: SFT on instructions whose answers are partly
wrong (a careless labeller), then DPO on pairs that rank the right answer above the wrong one.

    python bench/instruct_noisy.py --gpt runs/gpt [--noise 0.4] [--seeds 0 1 2] [--out bench/out/instruct-noisy]

`--gpt` is a finished gpt-mini next-token run (e.g. `bench/instruct.py`'s `seed0/gpt`). The training
instructions of `fortunes-instruct` are written as two JSONL files: `sft.jsonl`, where a seeded `--noise`
share of the answers is replaced by another class named in the prompt, and `prefs.jsonl`, the same prompts
with the right answer chosen and, as rejected, the wrong demonstration where there was one, else the
task's own rejected answer. Per seed: `finetune --task instruct --strategy full` on `sft.jsonl`, then
`align --method dpo` from it on `prefs.jsonl` (plain, and with `--sft-weight 1`: RPO), each scored by
`headstart evaluate` on the 583 test instructions; differences to SFT paired by seed, 95% t intervals.
The RPO row also trains on the chosen (right) answers, so its gain mixes the preference with cleaner
targets; the plain row is the preference alone.

Measured 2026-12-03 (`--gpt` bench/instruct.py's seed-0 pretraining, 1,500 steps; 2,764 of 6,959 answers made
wrong; 3 seeds), test exact match / preference accuracy, mean: noisy SFT 44.5 / 80.0%; + DPO 40.4 / 79.6%
(exact match -4.1 points, paired 95% CI -7.1 to -1.0); + DPO + NLL 44.5 / 79.5% (+0.1, -0.6 to +0.7). The
preference adds nothing here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["--accelerator", "cpu", "--precision", "32", "--num-workers", "0", "--no-progress",
          "--checkpoint-every", "off", "--overwrite", "--seq-len", "96"]
ROWS = {"sft": "SFT full on noisy answers", "dpo": "+ DPO on right > wrong", "dpo-nll": "+ DPO + NLL (RPO)"}


def write_data(out: Path, noise: float) -> int:
    """sft.jsonl and prefs.jsonl under `out` (see module doc); returns how many answers were made wrong."""
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
            answer = rejected = str(rng.choice([n for n in names if n != ex.answer]))
            wrong += 1
        sft_rows.append({"prompt": prompt, "response": answer})
        pref_rows.append({"prompt": prompt, "chosen": ex.answer, "rejected": rejected})
    for name, rows in (("sft.jsonl", sft_rows), ("prefs.jsonl", pref_rows)):
        (out / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return wrong


def headstart(*args: str) -> None:
    cmd = [sys.executable, "-m", "headstart.cli.main", *args]
    print("+", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def evaluate(run: Path) -> dict:
    """Exact match and preference accuracy of `run` on the fortunes-instruct test split (`headstart evaluate`,
    which merges them into the run's results.json)."""
    if "evaluation" not in json.loads((run / "results.json").read_text()):
        headstart("evaluate", "--run", str(run), "--data", "fortunes-instruct", "--no-progress")
    e = json.loads((run / "results.json").read_text())["evaluation"]
    return {"exact_match": e["exact_match"], "pref_acc": (e.get("preference") or {}).get("accuracy")}


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
    return {row: evaluate(runs / name) for name, row in ROWS.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gpt", type=Path, required=True, help="a finished gpt-mini next-token run")
    p.add_argument("--noise", type=float, default=0.4, help="share of the SFT answers made wrong")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--sft-steps", type=int, default=600)
    p.add_argument("--dpo-steps", type=int, default=200)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "instruct-noisy")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    wrong = write_data(a.out, a.noise)
    per_seed = [one_seed(seed, a) for seed in a.seeds]
    from headstart.eval.stats import mean_ci, paired_difference

    def fmt(e) -> str:
        return f"{100 * e.mean:+.1f}" + ("" if e.low is None else f" ({100 * e.low:+.1f} to {100 * e.high:+.1f})")

    lines = [f"{wrong} SFT answers made wrong ({a.noise:.0%}); {len(a.seeds)} seed(s)",
             "| row | exact match | pref. acc. | exact match - SFT | pref. acc. - SFT |", "|---|---|---|---|---|"]
    base = ROWS["sft"]
    for row in ROWS.values():
        em = [s[row]["exact_match"] for s in per_seed]
        pa = [s[row]["pref_acc"] for s in per_seed]
        d_em = paired_difference(em, [s[base]["exact_match"] for s in per_seed])
        d_pa = paired_difference(pa, [s[base]["pref_acc"] for s in per_seed])
        lines.append(f"| {row} | {100 * mean_ci(em).mean:.1f}% | {100 * mean_ci(pa).mean:.1f}% | "
                     f"{'-' if row == base else fmt(d_em)} | {'-' if row == base else fmt(d_pa)} |")
    text = "\n".join(lines)
    print(text)
    (a.out / "table.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
