from headstart.adapt.config import FinetuneConfig
from headstart.cli._build import Command

COMMAND = Command(
    "finetune",
    FinetuneConfig,
    "headstart.cli.finetune:main",
    "Fine-tune a classifier with few labels from a pretraining run, a weights file or scratch.",
)


def main(cfg: FinetuneConfig) -> None:
    from headstart.commands.finetune import run

    r = run(cfg)
    if cfg.task == "instruct":
        from headstart.commands._instruct import summary

        print(summary(r))
        return
    if cfg.task in ("detect", "segment"):
        from headstart.commands.finetune_dense import summary

        print(summary(r))
        return
    test = f"test accuracy {r.accuracy:.1%}, " if r.accuracy is not None else ""
    forgot = ""
    f = r.forgetting or {}
    if "before" in f:
        forgot = f", forgetting kNN {f['before']:.1%} -> {f['after']:.1%}"
        forgot += f" (blended {f['blended']:.1%})" if "blended" in f else ""
    if "before" in f.get("perplexity", {}):  # text: the pretrained LM head on its held-out windows
        p = f["perplexity"]
        forgot += f", held-out perplexity {p['before']:.1f} -> {p['after']:.1f}"
    print(
        f"{r.strategy}: {test}validation {r.val_accuracy:.1%}, {r.trainable_share:.1%} of parameters trained"
        f"{forgot}; {r.steps} steps in {r.seconds:.0f} s -> {r.run}"
    )
