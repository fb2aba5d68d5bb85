from headstart.adapt.lm.config import AlignConfig
from headstart.cli._build import Command

COMMAND = Command("align", AlignConfig, "headstart.cli.align:main",
                  "Align a causal language model to chosen/rejected pairs (DPO or IPO) against its start model.")


def main(cfg: AlignConfig) -> None:
    from headstart.commands._instruct import summary
    from headstart.commands.align import run

    print(summary(run(cfg)))
