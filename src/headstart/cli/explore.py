from headstart.cli._build import Command
from headstart.curate.explore.config import ExploreConfig

COMMAND = Command("explore", ExploreConfig, "headstart.cli.explore:main",
                  "See a run's embeddings in the browser: map, neighbours, duplicates, what to label.")


def main(cfg: ExploreConfig) -> None:
    from headstart.commands.explore import run

    out = run(cfg)
    if out is not None:
        print(f"wrote {out}")
