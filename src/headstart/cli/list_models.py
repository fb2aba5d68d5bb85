from pydantic import Field

from headstart.cli._build import Command
from headstart.config import Config


class ListModelsConfig(Config):
    """`headstart list-models`."""

    filter: str | None = Field(None, description="only names containing this text, e.g. resnet")
    family: str | None = Field(None, description="only one family: headstart, torchvision or timm")


COMMAND = Command("list-models", ListModelsConfig, "headstart.cli.list_models:main",
                  "List backbones: built-in nets, torchvision and timm models.")


def main(cfg: ListModelsConfig) -> None:
    from headstart.commands.list_models import by_family

    for family, names in by_family(family=cfg.family, filter=cfg.filter).items():
        print(f"{family} ({len(names)}):")
        for name in names:
            print(f"  {family}/{name}")
