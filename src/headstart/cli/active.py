from headstart.cli._build import Command
from headstart.curate.config import ActiveConfig

COMMAND = Command("active", ActiveConfig, "headstart.cli.active:main",
                  "Active learning: rounds of select + fine-tune on a pool whose labels are revealed only for the picks.")


def main(cfg: ActiveConfig) -> None:
    from headstart.commands.active import run

    for r in run(cfg):
        acc = f"{r['accuracy']:.1%}" if r.get("accuracy") is not None else "-"
        print(f"round {r['round']}: {r['labeled']} labeled ({r['strategy']}), test accuracy {acc} -> {r['run']}")
    print(f"-> {cfg.out / 'rounds.json'}")
