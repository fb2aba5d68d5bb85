"""What makes a local folder a Hugging Face checkpoint, read without torch or transformers (so
a model name is checked while the options are read, and a hub name is refused, never fetched)."""

from __future__ import annotations

import json
from pathlib import Path

from headstart.errors import HeadstartError


def check_hf_folder(path: Path) -> None:
    """Raise unless `path` is a local folder with a `transformers` config.json (never a hub name)."""
    config = path / "config.json"
    if not config.is_file():
        raise HeadstartError(f"no Hugging Face model folder at {path} (no config.json)",
                             fix="pass hf:<a local folder written by save_pretrained>; "
                             "headstart never downloads")
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as err:
        raise HeadstartError(f"cannot read {config}: {err}",
                             fix="check that it is a transformers config") from None
    if not model_type:
        raise HeadstartError(f"{config} names no model_type", fix="pass a folder written by save_pretrained")
