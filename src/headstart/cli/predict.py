from headstart.adapt.config import PredictConfig
from headstart.cli._build import Command

COMMAND = Command(
    "predict",
    PredictConfig,
    "headstart.cli.predict:main",
    "Predict classes with a fine-tuned run: CSV of path, prediction, confidence and top-3.",
)


def main(cfg: PredictConfig) -> None:
    from headstart.commands.predict import run

    print(f"wrote {run(cfg)}")
