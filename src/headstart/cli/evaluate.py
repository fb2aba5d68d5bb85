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
    from headstart.adapt.evaluation import format_table, run_evaluate

    results = run_evaluate(cfg)
    print(format_table(results))
    print(f"-> {cfg.run / 'results.json'}")
