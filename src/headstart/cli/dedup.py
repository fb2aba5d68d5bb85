from headstart.cli._build import Command
from headstart.curate.config import DedupConfig

COMMAND = Command("dedup", DedupConfig, "headstart.cli.dedup:main",
                  "Find near-duplicate images by embedding similarity, or exact ones with --exact.")


def main(cfg: DedupConfig) -> None:
    from headstart.commands.dedup import run

    print(f"wrote {run(cfg)}")
