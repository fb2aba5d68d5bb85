from headstart.cli._build import Command
from headstart.eval.config import BiasConfig

COMMAND = Command("bias", BiasConfig, "headstart.cli.bias:main",
                  "Where a fine-tuned model fails: per-class and per-group accuracy with intervals, calibration.")


def main(cfg: BiasConfig) -> None:
    from headstart.commands.bias import run

    report = run(cfg)
    print(report["summary"])
    print(f"wrote {report['page']}")
