"""What fine-tuning reads, images or text, behind one interface: `finetune.run` asks `inputs_for`
once (by the kind of `--data`) and the rest of the pipeline — label subset, strategies, module,
trainer, blending, measuring, export — is the same code for both.

What differs is said here and nowhere else:

- how a split is opened: images as `ImageSet`s, text read and tokenized once into `TextSet`s
  (batches `(ids, labels)`, padded);
- the views: images are augmented (`supervised`), token ids are read as they are (`none`), and
  evaluation goes through `data.views.inputs.model_input`;
- the backbone: a text model is built with its tokenizer (vocabulary, special ids). The tokenizer
  is `--tokenizer`, else the run's (`--from` a pretraining run), else an `hf:` folder's, else one
  trained on the texts of `--data`'s training split (`--from scratch`; its texts only, no labels). The
  run folder keeps it in `tokenizer/`, so the fine-tuned run loads like a pretraining run;
- forgetting: images measure kNN on the pretraining data; text adds the held-out perplexity of
  the pretraining run's language-model head on its own corpus (`text_forgetting`).

Text modules are imported inside the text branch: they import `transformers` (seconds), which an
image run never needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from headstart.adapt.config import FinetuneConfig
from headstart.adapt.data import LabeledSplits, at_size, labeled_splits
from headstart.commands._finetune_finish import measure_forgetting
from headstart.commands._finetune_resolve import Init
from headstart.errors import HeadstartError
from headstart.models.backbone import Backbone
from headstart.models.factory import create_backbone, run_tokenizer
from headstart.models.family import model_modality, split_name
from headstart.run import Run


def inputs_for(cfg: FinetuneConfig, init: Init, rundir: Run) -> ImageInputs | TextInputs:
    """The pipeline of `--data`'s kind; a model of the other kind is refused in one line."""
    from headstart.data.text import is_text_spec

    kind = "text" if is_text_spec(cfg.data) else "image"
    model_kind = model_modality(init.model)
    if kind != model_kind:
        raise HeadstartError(f"--data {cfg.data} is {kind}, but {init.model} is a{'n' * (model_kind == 'image')} "
                             f"{model_kind} model",
                             fix="use headstart/bert-mini, headstart/gpt-mini or hf:<folder> for text"
                             if kind == "text" else "use an image model (headstart list-models)")
    return ImageInputs() if kind == "image" else TextInputs(text_tokenizer(cfg, init, rundir))


class ImageInputs:
    views = "supervised"

    def configured(self, cfg: FinetuneConfig) -> FinetuneConfig:
        return cfg

    def splits(self, cfg: FinetuneConfig) -> LabeledSplits:
        return labeled_splits(cfg)

    def sized(self, data: LabeledSplits, cfg: FinetuneConfig) -> LabeledSplits:
        """Every split served at the resolved side (in-memory sets resized once)."""
        size = int(cfg.image_size)

        def resized(part):
            return at_size(part, size) if part is not None else None

        return replace(data, train=resized(data.train), val=resized(data.val), test=resized(data.test),
                       unlabeled=resized(data.unlabeled))

    def backbone(self, cfg: FinetuneConfig, init: Init) -> Backbone:
        return create_backbone(init.model, weights=init.weights, image_size=int(cfg.image_size),
                               allow_partial=cfg.allow_partial)

    def save(self, rundir: Run) -> None:
        """Nothing besides the weights: an image run needs nothing else to load."""

    def forgetting(self, cfg: FinetuneConfig, model, start: dict, tuned: dict, device) -> dict | None:
        return measure_forgetting(cfg, model, start, tuned, device)


@dataclass
class TextInputs:
    tokenizer: Any  # a transformers fast tokenizer
    views = "none"

    def configured(self, cfg: FinetuneConfig) -> FinetuneConfig:
        """Text has no image side (0) and no channels-last layout."""
        return cfg.model_copy(update={"image_size": 0, "channels_last": False})

    def opener(self, cfg: FinetuneConfig):
        from headstart.data.text import open_text
        from headstart.data.text.textset import tokenize_corpus

        def open_split(spec: str, split: str):
            return tokenize_corpus(open_text(spec, split=split), tokenizer=self.tokenizer, max_length=cfg.seq_len)

        return open_split

    def splits(self, cfg: FinetuneConfig) -> LabeledSplits:
        if cfg.self_train or cfg.semi != "none":
            raise HeadstartError("--self-train and --semi fine-tune on images only for now",
                                 fix="drop --self-train / --semi for text data")
        return replace(labeled_splits(cfg, opener=self.opener(cfg)), views=self.views)

    def sized(self, data: LabeledSplits, cfg: FinetuneConfig) -> LabeledSplits:
        return data  # documents are cut to --seq-len when served

    def backbone(self, cfg: FinetuneConfig, init: Init) -> Backbone:
        return create_backbone(init.model, weights=init.weights, allow_partial=cfg.allow_partial,
                               tokenizer=self.tokenizer)

    def save(self, rundir: Run) -> None:
        from headstart.data.text.tokenizer import save_tokenizer

        save_tokenizer(self.tokenizer, rundir.path / "tokenizer")

    def forgetting(self, cfg: FinetuneConfig, model, start: dict, tuned: dict, device) -> dict | None:
        from headstart.commands._finetune_text import text_forgetting

        return text_forgetting(cfg, model, start, tuned, device, tokenizer=self.tokenizer,
                               knn=lambda: measure_forgetting(cfg, model, start, tuned, device,
                                                              opener=self.opener(cfg), warn=False))


def text_tokenizer(cfg: FinetuneConfig, init: Init, rundir: Run):
    """The run's own (a resumed run), `--tokenizer`, the pretraining run's, an `hf:` folder's, or one
    trained on the texts of `--data`'s training split."""
    from headstart.data.text.tokenizer import load_tokenizer

    own = run_tokenizer(rundir)
    if own is not None:
        return own
    if cfg.tokenizer is not None:
        return load_tokenizer(cfg.tokenizer)
    family, net = split_name(init.model)
    if init.kind == "run":
        tok = run_tokenizer(init.weights)
        if tok is None:
            raise HeadstartError(f"the run {init.weights} keeps no tokenizer (no tokenizer/ folder)",
                                 fix="pass --tokenizer <folder> (the one it was pretrained with)")
        return tok
    if family == "hf":
        return load_tokenizer(net)
    if init.kind == "weights":
        raise HeadstartError(f"--from {init.weights} is a weights file, which holds no tokenizer",
                             fix="pass --tokenizer <folder> (the one the weights were trained with)")
    return trained_tokenizer(cfg, net)


def trained_tokenizer(cfg: FinetuneConfig, net: str):
    """A tokenizer for a model from scratch, fitted on the texts (never the labels) of `--data`'s training split."""
    from headstart.data.text import open_text
    from headstart.data.text.tokenizer import train_tokenizer
    from headstart.models.text import TEXT_NETS

    texts = open_text(cfg.data, split="train").texts
    return train_tokenizer(texts, style=TEXT_NETS[net], model_max_length=max(512, cfg.seq_len))
