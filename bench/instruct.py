"""Instruction tuning and preference alignment of gpt-mini on the fortunes instruction task, at a
scale a shared 2-core CPU can run: the table of issue 18.

    python bench/instruct.py [--seeds 0 1 2] [--pretrain-steps 1500] [--sft-steps 600] [--dpo-steps 200]
                             [--labels 100%] [--lora-lr 2e-3] [--dpo-sft-weight 1.0] [--out bench/out/instruct]
                             [--keep-done] [--collect]

Steps, each a `headstart` CLI process (so peak RSS is that row's own):
1. `pretrain --model headstart/gpt-mini --method next-token --data fortunes` (unlabeled, every
   language; the instruction test texts are in no training split);
2. zero-shot: the pretrained model scored on `fortunes-instruct:test` (prompts name the answers);
3. `finetune --task instruct` on `fortunes-instruct` (`--labels` examples) with `full`, `lora` and
   `qlora` (bitsandbytes NF4 on the CPU), the `full` run blended half-way back to the pretrained
   weights (what `--blend 0.5` computes, scored without training it twice), and `full` from scratch
   (the control);
4. `align --method dpo` from the `full` SFT run on the preference view of the same task: plain, with
   `--sft-weight` (the chosen answers' NLL added: RPO), and RPO on the SFT model's own wrong answers
   (`--rejected policy`: on-policy pairs).

Per row: exact match and preference accuracy on the held-out test split (583 instructions, 30 per
class, 8 of 12 topics and 8 languages), held-out perplexity of the pretraining corpus before/after
(forgetting), trainable share, peak RSS and tokens/s of training. Mean over seeds (min-max when
several). The table is printed and written as Markdown and JSON under `--out`.

Measured 2026-12-03, tenth session (`--seeds 0 1 2 --keep-done`, the defaults, after prompts are cut alike
for every answer: `data.text.instruct.encode`; every figure measured before that is void, the git history
has them): exact match, mean over 3 seeds: SFT full 47.6%, lora 45.9%, qlora 45.2%, full blended 0.5 43.3%,
full + DPO 38.0%, + NLL 47.4%, + NLL on own mistakes 47.5%, never pretrained 46.1%; paired lora - full -1.8
points (95% CI -3.5 to -0.1), qlora - full -2.5 (-3.5 to -1.4), DPO + NLL - full -0.2 (-2.0 to +1.5);
forgetting (perplexity 223 ->) full 4,826, lora 2,123, blend 550. The README has the whole table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["--accelerator", "cpu", "--precision", "32", "--num-workers", "0", "--no-progress",
          "--checkpoint-every", "off", "--overwrite"]


DPO_ROWS = {"dpo": "SFT full + DPO", "dpo-nll": "SFT full + DPO + NLL (RPO)",
            "dpo-own": "SFT full + DPO, own mistakes"}


KEEP_DONE = False  # --keep-done: a step whose output is there is not run again (a bench cut short goes on)


def headstart(*args: str, done: Path | None = None) -> float:
    """Run one CLI command (unless --keep-done and `done` exists); returns its wall seconds."""
    if KEEP_DONE and done is not None and done.exists():
        print("= kept", done, flush=True)
        return 0.0
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "headstart.cli.main", *args]
    print("+", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - start


def zero_shot(gpt: Path, out: Path, seq_len: int) -> dict:
    """The pretrained model scored as it is (a subprocess, for its own peak RSS)."""
    if KEEP_DONE and out.exists():
        return json.loads(out.read_text())
    code = f"""
import json, resource
from headstart.adapt.causal_lm import load_causal_lm
from headstart.commands._instruct_eval import EvalSets, perplexity_forgetting, score
from headstart.data.text.instruct import with_chat_template
from headstart.models.factory import run_tokenizer
tok = with_chat_template(run_tokenizer({str(gpt)!r}))
model = load_causal_lm({str(gpt)!r})
r = score(model, EvalSets("fortunes-instruct", tok, split="test", seq_len={seq_len}), device="cpu")
r["forgetting"] = {{"perplexity": perplexity_forgetting(model, __import__("pathlib").Path({str(gpt)!r}), tok,
                                                         device="cpu")}}
r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
r["trainable_share"] = 0.0
open({str(out)!r}, "w").write(json.dumps(r))
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return json.loads(out.read_text())


def blended(gpt: Path, full: Path, out: Path, seq_len: int, alpha: float = 0.5) -> dict:
    """WiSE-FT of the pretrained and the `full` SFT weights, as `finetune --blend 0.5` blends them (the
    same formula, `adapt.wise.blend_states`), scored like the other rows without a second training."""
    if KEEP_DONE and out.exists():
        return json.loads(out.read_text())
    code = f"""
import json
from pathlib import Path
from headstart.adapt.causal_lm import load_causal_lm
from headstart.adapt.wise import blend_states
from headstart.commands._instruct_eval import EvalSets, perplexity_forgetting, score
from headstart.models.factory import run_tokenizer
tok = run_tokenizer({str(full)!r})
start, model = load_causal_lm({str(gpt)!r}), load_causal_lm({str(full)!r})
model.backbone.module.load_state_dict(blend_states(start.backbone.module.state_dict(),
                                                   model.backbone.module.state_dict(), {alpha}))
r = score(model, EvalSets("fortunes-instruct", tok, split="test", seq_len={seq_len}), device="cpu")
r["forgetting"] = {{"perplexity": perplexity_forgetting(model, Path({str(gpt)!r}), tok, device="cpu")}}
r["trainable_share"] = 1.0
open({str(out)!r}, "w").write(json.dumps(r))
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return json.loads(out.read_text())


def row(results: dict) -> dict:
    ppl = (results.get("forgetting") or {}).get("perplexity") or {}
    pref = results.get("preference") or {}
    return {"exact_match": results["exact_match"], "pref_acc": pref.get("accuracy"),
            "reward_margin": pref.get("reward_margin"), "ppl_before": ppl.get("before"), "ppl_after": ppl.get("after"),
            "trainable": results.get("trainable_share"), "rss_mb": results.get("peak_rss_mb"),
            "tok_s": results.get("tokens_per_s")}


def one_seed(seed: int, a: argparse.Namespace, out: Path) -> dict[str, dict]:
    runs = out / f"seed{seed}"
    gpt = runs / "gpt"
    sft = ["--data", "fortunes-instruct", "--task", "instruct", "--labels", str(a.labels), "--steps",
           str(a.sft_steps), "--batch-size", "16", "--seq-len", str(a.seq_len), "--seed", str(seed), *COMMON]
    rows: dict[str, dict] = {}
    headstart("pretrain", "--data", "fortunes", "--model", "headstart/gpt-mini", "--method", "next-token",
              "--steps", str(a.pretrain_steps), "--batch-size", "32", "--seq-len", "64", "--method-args",
              f"vocab_size={a.vocab}", "--seed", str(seed), "--out", str(gpt), *COMMON,
              done=gpt / "exported")
    rows["zero-shot (pretrained)"] = row(zero_shot(gpt, runs / "zero_shot.json", a.seq_len))
    for strategy in ("full", "lora", "qlora"):
        lr = ["--lr", str(a.lora_lr)] if strategy != "full" and a.lora_lr else []
        if strategy != "full":
            lr += ["--lora-plus-ratio", str(a.lora_plus_ratio)]
        headstart("finetune", "--from", str(gpt), *sft, "--strategy", strategy, *lr, "--out", str(runs / strategy),
                  done=runs / strategy / "results.json")
        rows[f"SFT {strategy}"] = row(json.loads((runs / strategy / "results.json").read_text()))
    rows["SFT full, blended 0.5 (WiSE-FT)"] = row(blended(gpt, runs / "full", runs / "blend.json", a.seq_len))
    for name, weight, rejected in (("dpo", 0.0, "data"), ("dpo-nll", a.dpo_sft_weight, "data"),
                                   ("dpo-own", a.dpo_sft_weight, "policy")):
        headstart("align", "--from", str(runs / "full"), "--data", "fortunes-instruct", "--method", "dpo", "--beta",
                  str(a.beta), "--sft-weight", str(weight), "--rejected", rejected, "--labels", str(a.labels),
                  "--steps", str(a.dpo_steps),
                  "--batch-size", "8", "--seq-len", str(a.seq_len), "--seed", str(seed), *COMMON, "--out",
                  str(runs / name), done=runs / name / "results.json")
        rows[DPO_ROWS[name]] = row(json.loads((runs / name / "results.json").read_text()))
    headstart("finetune", "--from", "scratch", "--model", "headstart/gpt-mini", "--tokenizer", str(gpt / "tokenizer"),
              *sft, "--strategy", "full", "--out", str(runs / "scratch"), done=runs / "scratch" / "results.json")
    rows["scratch SFT full (control)"] = row(json.loads((runs / "scratch" / "results.json").read_text()))
    return rows


def collect(runs: Path) -> dict[str, dict]:
    """The rows of one seed's folder that finished (`--collect`: a partial table from a run cut short)."""
    files = {"zero-shot (pretrained)": runs / "zero_shot.json", "SFT full": runs / "full" / "results.json",
             "SFT lora": runs / "lora" / "results.json", "SFT qlora": runs / "qlora" / "results.json",
             "SFT full, blended 0.5 (WiSE-FT)": runs / "blend.json",
             **{row_name: runs / name / "results.json" for name, row_name in DPO_ROWS.items()},
             "scratch SFT full (control)": runs / "scratch" / "results.json"}
    return {name: row(json.loads(f.read_text())) for name, f in files.items()
            if f.is_file() and "exact_match" in json.loads(f.read_text())}


def table(per_seed: list[dict[str, dict]]) -> str:
    def cell(name: str, key: str, fmt: str) -> str:
        values = [s[name][key] for s in per_seed if name in s and s[name].get(key) is not None]
        if not values:
            return "-"
        mean = sum(values) / len(values)
        text = format(mean, fmt)
        return text if len(values) == 1 else f"{text} ({format(min(values), fmt)}-{format(max(values), fmt)})"

    head = ("| row | exact match | pref. acc. | reward margin | ppl before -> after | trainable | peak RSS MB "
            "| train tok/s |\n|---|---|---|---|---|---|---|---|")
    lines = [head]
    for name in per_seed[0]:
        ppl = f"{cell(name, 'ppl_before', '.1f')} -> {cell(name, 'ppl_after', '.1f')}"
        lines.append(f"| {name} | {cell(name, 'exact_match', '.1%')} | {cell(name, 'pref_acc', '.1%')} | "
                     f"{cell(name, 'reward_margin', '.2f')} | {ppl} | {cell(name, 'trainable', '.1%')} | "
                     f"{cell(name, 'rss_mb', '.0f')} | {cell(name, 'tok_s', '.0f')} |")
    return "\n".join(lines)


COMPARISONS = (("SFT lora", "SFT full"), ("SFT qlora", "SFT full"), ("SFT full + DPO", "SFT full"),
               ("SFT full + DPO + NLL (RPO)", "SFT full"), ("SFT full + DPO, own mistakes", "SFT full"),
               ("SFT full", "scratch SFT full (control)"))


def differences(per_seed: list[dict[str, dict]]) -> str:
    """Paired differences (same seed: same pretraining, data order and test set) with 95% t intervals."""
    from headstart.eval.stats import paired_difference

    def cell(a: str, b: str, key: str) -> str:
        pairs = [(s[a][key], s[b][key]) for s in per_seed if a in s and b in s and s[a].get(key) is not None
                 and s[b].get(key) is not None]
        if not pairs:
            return "-"
        e = paired_difference([x for x, _ in pairs], [y for _, y in pairs])
        if e.low is None:
            return f"{100 * e.mean:+.1f} (1 seed)"
        return f"{100 * e.mean:+.1f} ({100 * e.low:+.1f} to {100 * e.high:+.1f})"

    lines = ["| difference (points, paired by seed, 95% t) | exact match | pref. acc. |", "|---|---|---|"]
    for a, b in COMPARISONS:
        if any(a in s and b in s for s in per_seed):
            lines.append(f"| {a} - {b} | {cell(a, b, 'exact_match')} | {cell(a, b, 'pref_acc')} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--pretrain-steps", type=int, default=1500)
    p.add_argument("--sft-steps", type=int, default=600)
    p.add_argument("--dpo-steps", type=int, default=200)
    p.add_argument("--labels", default="100%", help="instructions (and pairs) to train on: a count or a share")
    p.add_argument("--lora-lr", type=float, default=2e-3,
                   help="lora / qlora learning rate (0: the strategy's auto); 2e-3 chosen on validation, ninth session")
    p.add_argument("--lora-plus-ratio", type=float, default=1.0, help="lora / qlora --lora-plus-ratio (LoRA+)")
    p.add_argument("--dpo-sft-weight", type=float, default=1.0, help="--sft-weight of the DPO + NLL rows")
    p.add_argument("--seq-len", type=int, default=96)
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "instruct")
    p.add_argument("--collect", action="store_true", help="only tabulate the rows already in --out")
    p.add_argument("--keep-done", action="store_true", help="do not run again a step whose results are in --out "
                   "(go on with a bench cut short; the options must be the same)")
    a = p.parse_args()
    global KEEP_DONE
    KEEP_DONE = a.keep_done
    a.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if a.collect:
        per_seed = [collect(a.out / f"seed{seed}") for seed in a.seeds]
    else:
        per_seed = [one_seed(seed, a, a.out) for seed in a.seeds]
    text = table(per_seed) + "\n\n" + differences(per_seed)
    load = os.getloadavg()[0]
    note = (f"\n{len(a.seeds)} seed(s), {a.pretrain_steps} pretraining / {a.sft_steps} SFT / {a.dpo_steps} DPO "
            f"steps, {a.labels} instructions, seq-len {a.seq_len}; {time.perf_counter() - start:.0f} s, "
            f"load average at the end {load:.1f}")
    print(text + note)
    (a.out / "table.md").write_text(text + note + "\n")
    (a.out / "rows.json").write_text(json.dumps(per_seed, indent=1))


if __name__ == "__main__":
    main()
