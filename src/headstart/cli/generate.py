from headstart.adapt.lm.config import GenerateConfig
from headstart.cli._build import Command

COMMAND = Command("generate", GenerateConfig, "headstart.cli.generate:main",
                  "Generate text from a causal LM run: one --prompt streamed, or --prompts JSONL to --out JSONL.")


def main(cfg: GenerateConfig) -> None:
    from headstart.commands.generate import run

    out = run(cfg)
    if cfg.prompts is not None:
        print(f"wrote {out}")
