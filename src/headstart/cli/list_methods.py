from headstart.cli._build import Command
from headstart.config import Config


class ListMethodsConfig(Config):
    """`headstart list-methods`."""


COMMAND = Command("list-methods", ListMethodsConfig, "headstart.cli.list_methods:main",
                  "List pretraining methods with their hyper-parameters and defaults.")


def main(cfg: ListMethodsConfig) -> None:
    from headstart.commands.list_methods import describe, list_methods

    for name in list_methods():
        doc, defaults = describe(name)
        print(f"{name}: {doc}")
        print("    --method-args " + ", ".join(f"{k}={v!r}" for k, v in defaults.items()))
