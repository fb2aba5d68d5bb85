from headstart.cli._build import Command
from headstart.curate.config import SelectConfig

COMMAND = Command("select", SelectConfig, "headstart.cli.select:main",
                  "Pick images to label next (diverse, typical, balanced, uncertain, random, a+b blends).")


def main(cfg: SelectConfig) -> None:
    from headstart.commands.select import run

    out = run(cfg)
    print(f"wrote {out}, {out}.png")
