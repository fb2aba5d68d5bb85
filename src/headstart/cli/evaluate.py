from headstart.adapt.config import EvaluateConfig
from headstart.cli._build import Command

COMMAND = Command(
    "evaluate",
    EvaluateConfig,
    "headstart.cli.evaluate:main",
    "Evaluate a run: kNN + linear probe (pretraining run) or accuracy, per class and confusion "
    "(fine-tuned run); merged into its results.json.",
)


def main(cfg: EvaluateConfig) -> None:
    from headstart.commands.evaluate import format_table, run

    results = run(cfg)
    print(format_table(results))
    print(f"-> {cfg.run / 'results.json'}")
