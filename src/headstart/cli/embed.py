from headstart.cli._build import Command
from headstart.export.config import EmbedConfig

COMMAND = Command("embed", EmbedConfig, "headstart.cli.embed:main",
                  "Embed images with a run's backbone: embeddings.npy + index.csv (path, label).")


def main(cfg: EmbedConfig) -> None:
    from headstart.commands.embed import run

    files = run(cfg)
    print("wrote " + ", ".join(str(f) for f in files))
