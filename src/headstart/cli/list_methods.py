from headstart.cli._build import Command
from headstart.config import Config


class ListMethodsConfig(Config):
    """`headstart list-methods`."""


COMMAND = Command("list-methods", ListMethodsConfig, "headstart.cli.list_methods:main",
                  "List pretraining methods with their hyper-parameters and defaults.")


def main(cfg: ListMethodsConfig) -> None:
    from headstart.methods import list_methods, method_class

    for name in list_methods():
        cls = method_class(name)
        doc = (cls.__module__ and __import__(cls.__module__, fromlist=["x"]).__doc__ or "").strip().splitlines()[0]
        print(f"{name}: {doc}")
        args = ", ".join(f"{k}={f.default!r}" for k, f in cls.config_cls.model_fields.items())
        print(f"    --method-args {args}")
