"""`exported/hf/`: a text run as a Hugging Face `save_pretrained` folder, tokenizer included.

`transformers.AutoModel.from_pretrained(folder)` gives the backbone's base model and
`AutoTokenizer.from_pretrained(folder)` its tokenizer, without headstart. An mlm / next-token
run saves its whole language model (`BertForMaskedLM`, `LlamaForCausalLM`), so
`AutoModelForMaskedLM` / `AutoModelForCausalLM` load the head the method trained too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerFast

from headstart.data.text.tokenizer import save_tokenizer
from headstart.errors import HeadstartError
from headstart.io import disk_error, temp_folder_beside
from headstart.run import Run


def save_hf_folder(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, folder: Path) -> Path:
    """`model.save_pretrained` + the tokenizer's files in `folder`, replaced whole or not at all."""
    folder = Path(folder)
    tmp = temp_folder_beside(folder)
    try:
        plain = getattr(model, "_orig_mod", model)
        plain.save_pretrained(tmp, safe_serialization=True)
        tok = save_tokenizer(tokenizer, tmp / ".tokenizer")
        for f in tok.iterdir():
            os.replace(f, tmp / f.name)
        tok.rmdir()
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise disk_error(err, folder) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def copy_hf_folder(run: Run, out: Path) -> Path:
    """`headstart export --format hf`: the run's `exported/hf/` copied to `out` (a new folder)."""
    src = run.exported / "hf"
    if not (src / "config.json").is_file():
        raise HeadstartError(f"{run.path} has no Hugging Face folder (exported/hf/)",
                             fix="--format hf exports text runs (pretrained with a text model); use --format "
                             "safetensors for this one")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HeadstartError(f"--out {out} already exists", fix="pass a new folder")
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(src, tmp)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise disk_error(err, out) from None
    return out
