"""What the image and the text pretraining pipelines share: the result and the method's arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from headstart.config import parse
from headstart.errors import HeadstartError
from headstart.methods.base import MethodConfig


@dataclass
class PretrainResult:
    run: Path
    knn: float | None
    steps: int
    seconds: float
    perplexity: float | None = None  # text methods with a language-model objective


def method_config(cls: type, method: str, args: dict) -> MethodConfig:
    """`--method-args` parsed by the method's config; errors name KEY=VALUE, not --flags."""
    try:
        return parse(cls.config_cls, args)
    except HeadstartError as err:
        text = re.sub(r" \(--[\w-]+\)", "", str(err))
        raise HeadstartError(f"--method-args for {method}: {text}",
                             fix="see `headstart list-methods` for each method's arguments") from None
