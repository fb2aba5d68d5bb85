from headstart.cli._build import Command
from headstart.train.config import PretrainConfig

COMMAND = Command("pretrain", PretrainConfig, "headstart.cli.pretrain:main",
                  "Self-supervised pretraining of a backbone on unlabeled images or text.")


def main(cfg: PretrainConfig) -> None:
    from headstart.commands.pretrain import run

    result = run(cfg)
    knn = f", monitor kNN {result.knn:.1%} (10k bank; headstart evaluate uses all)" if result.knn is not None else ""
    ppl = f", held-out perplexity {result.perplexity:.1f}" if result.perplexity is not None else ""
    print(f"pretrained {result.steps} steps in {result.seconds:.0f} s{ppl}{knn} -> {result.run}")
