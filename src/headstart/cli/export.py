from headstart.cli._build import Command
from headstart.export.config import ExportConfig

COMMAND = Command("export", ExportConfig, "headstart.cli.export:main",
                  "Export a run's weights for torchvision/timm (plain state dict), safetensors or ONNX.")


def main(cfg: ExportConfig) -> None:
    from headstart.commands.export import run

    print(f"wrote {run(cfg)}")
