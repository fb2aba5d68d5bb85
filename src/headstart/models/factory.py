"""Backbones by name, through the family registry: `headstart/<net>`, `torchvision/<name>`, `timm/<name>`,
`hf:<folder>`; a text run's backbone is built with the tokenizer in its `tokenizer/` folder.

    >>> backbone = create_backbone("headstart/resnet-mini")
    >>> backbone(torch.rand(8, 1, 28, 28)).shape   # (8, 1024)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headstart.models.attention import explicit_attention_on_cpu
from headstart.models.backbone import Backbone
from headstart.models.family import FAMILIES, get_family, model_family, model_modality
from headstart.models.weights import load_weights
from headstart.run import Run


def create_backbone(name: str, *, weights: str | Path | None = None, image_size: int | None = None,
                    allow_partial: bool = False, tokenizer: Any = None) -> Backbone:
    """Build a backbone by `"<family>/<name>"`, optionally loading a local weights file or run folder
    (all of it, unless `allow_partial`). A text model built with `tokenizer` (a `transformers` fast
    tokenizer) has its vocabulary and special ids; without one, the default tokenizer's."""
    adapter, model = model_family(name)
    adapter.check(model)
    if tokenizer is not None:
        from headstart.models.text import create_text_backbone  # transformers: only for a text model

        backbone = create_text_backbone(name, tokenizer=tokenizer)
    else:
        backbone = adapter.create(model, image_size=image_size)
    explicit_attention_on_cpu(backbone.module)  # a no-op for models without timm-style attention
    if weights is not None:
        load_weights(backbone.module, weights, allow_partial=allow_partial)
    return backbone


def list_models(*, family: str | None = None) -> list[str]:
    """Model names of one family, or every `"<family>/<name>"` when `family` is None."""
    if family is None:
        return [f"{f}/{n}" for f in FAMILIES for n in get_family(f).names()]
    return get_family(family).names()


def load_run_backbone(run: Run | str | Path, *, image_size: int | None = None) -> Backbone:
    """The backbone a run folder exported (`exported/backbone.safetensors`), rebuilt by its model name
    at `image_size` (default: the run's)."""
    run = run if isinstance(run, Run) else Run.read(run)
    hf = run.exported / "hf"
    if model_modality(run.model_name) == "text" and (hf / "config.json").is_file():
        # its vocabulary is the run's own: read its save_pretrained folder (a fine-tuned text run has
        # none: it is rebuilt below with the tokenizer it keeps)
        from headstart.models.text import load_hf_backbone  # transformers: only for a text run

        return load_hf_backbone(hf)
    return create_backbone(run.model_name, weights=run.path, image_size=image_size or run.image_size,
                           tokenizer=run_tokenizer(run))


def run_tokenizer(run: Run | str | Path) -> Any:
    """The tokenizer a text run saved in its `tokenizer/` folder; None for a run without one."""
    folder = (run.path if isinstance(run, Run) else Path(run)) / "tokenizer"
    if not (folder / "tokenizer.json").is_file():
        return None
    from headstart.data.text.tokenizer import load_tokenizer  # transformers: only for a text run

    return load_tokenizer(folder)
