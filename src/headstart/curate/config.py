"""Options of `headstart select`, `headstart dedup` and the active-learning loop (no torch imports)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from headstart.config import Config

STRATEGY_HELP = (
    "random | diverse | typical | balanced | uncertain | combine, or a blend such as "
    "diverse+uncertain (weighted by --blend-weights)"
)


class SelectConfig(Config):
    """`headstart select`: which unlabeled images to label next."""

    run: Path = Field(description="a headstart run folder (fine-tuned for --strategy uncertain)")
    data: str = Field(description="the unlabeled images: folder, IDX file, or fashion-mnist[:split]")
    n: int = Field(ge=1, description="how many images to pick")
    strategy: str = Field("typical", description=STRATEGY_HELP)
    blend_weights: list[float] | None = Field(
        None, description="one weight per strategy of a blend a+b; unset: equal weights"
    )
    uncertainty: Literal["margin", "entropy"] = Field("margin", description="uncertainty measure")
    exclude: Path | None = Field(
        None, description="already-labeled images: CSV with a path column, or one path a line"
    )
    out: Path = Field(
        Path("to_label.csv"), description="CSV to write (rank,path,score,strategy); <out>.png sheet"
    )
    round: int | None = Field(
        None, ge=0, description="active-learning round: append it to rounds.json next to --out"
    )
    seed: int = Field(0, description="seed of random choices")
    batch_size: int = Field(512, ge=1, description="images per forward pass")
    on_bad_image: Literal["skip", "fail"] = Field(
        "skip", description="skip unreadable images with a warning, or stop"
    )
    progress: bool = Field(True, description="show a progress bar")


class DedupConfig(Config):
    """`headstart dedup`: groups of near-identical (or byte-identical) images."""

    run: Path | None = Field(None, description="a headstart run folder (not needed with --exact)")
    data: str = Field(description="images: a folder (any layout) or an IDX file")
    threshold: float = Field(
        0.95, gt=0, le=1, description="cosine similarity at which two images are duplicates"
    )
    exact: bool = Field(
        False, description="group files with identical content (hash) instead of similar embeddings"
    )
    out: Path = Field(
        Path("duplicates.csv"), description="CSV to write (group,path,similarity,keep: 1 on the image to keep)"
    )
    batch_size: int = Field(512, ge=1, description="images per forward pass")
    on_bad_image: Literal["skip", "fail"] = Field(
        "skip", description="skip unreadable images with a warning, or stop"
    )
    progress: bool = Field(True, description="show a progress bar")


class ActiveConfig(Config):
    """Active learning on a labeled pool whose labels are revealed only for the picked images."""

    run: Path = Field(description="the pretraining run every round fine-tunes from")
    data: str = Field(description="labeled pool: class sub-folders, IDX, or fashion-mnist")
    rounds: int = Field(3, ge=1, description="select + fine-tune rounds")
    n: int = Field(ge=1, description="images labeled per round")
    strategy: str = Field("uncertain", description=STRATEGY_HELP + "; rounds after the first")
    first_strategy: str = Field("diverse", description="round 1 strategy (no classifier exists yet)")
    blend_weights: list[float] | None = Field(None, description="one weight per strategy of a blended --strategy")
    finetune_strategy: str = Field("linear", description="headstart finetune --strategy of every round")
    epochs: int | None = Field(None, ge=1, description="fine-tuning epochs per round; unset: finetune's")
    batch_size: int = Field(64, ge=2, description="fine-tuning batch size")
    out: Path = Field(description="folder: round-<k>/ runs, picked-<k>.csv and rounds.json")
    seed: int = Field(0, description="seed of selection and fine-tuning")
    progress: bool = Field(False, description="show progress bars")
