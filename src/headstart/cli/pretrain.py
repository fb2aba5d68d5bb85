from headstart.cli._build import Command
from headstart.train.config import PretrainConfig

COMMAND = Command("pretrain", PretrainConfig, "headstart.cli.pretrain:main",
                  "Self-supervised pretraining of a backbone on unlabeled images.")


def main(cfg: PretrainConfig) -> None:
    from headstart.commands.pretrain import run

    result = run(cfg)
    knn = f", monitor kNN {result.knn:.1%} (10k-image bank; headstart evaluate uses all)" if result.knn is not None else ""
    print(f"pretrained {result.steps} steps in {result.seconds:.0f} s{knn} -> {result.run}")
