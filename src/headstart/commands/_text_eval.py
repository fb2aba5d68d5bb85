"""`headstart evaluate` and `headstart embed` for a text run (one whose model reads text).

- evaluate: kNN and a linear probe on the frozen sentence embeddings of `--data` (training
  split -> test split, or a stratified 80/20 split of data without one), and the held-out
  perplexity of the exported language model (`exported/hf`, mlm / next-token runs) on the
  pretraining corpus's held-out split: the same seeded windows the pretraining monitor scored;
- embed: `embeddings.npy` + `index.csv` whose rows hold the text (row, path = file:line, label, text).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM
from transformers import logging as hf_logging

from headstart.adapt.config import EvaluateConfig
from headstart.commands._pretrain_text import heldout_windows, split_corpus
from headstart.data.subsets import label_subset, split_train_val
from headstart.data.text import Corpus, open_text
from headstart.data.text.textset import tokenize_corpus
from headstart.data.text.tokenizer import load_tokenizer
from headstart.errors import HeadstartError
from headstart.eval.features import extract_features
from headstart.eval.knn import knn_accuracy
from headstart.eval.linear import linear_probe
from headstart.eval.perplexity import heldout_perplexity
from headstart.export.config import EmbedConfig
from headstart.io import atomic_write, write_text
from headstart.models.factory import load_run_backbone
from headstart.run import Run

LM_CLASS = {"mlm": AutoModelForMaskedLM, "next-token": AutoModelForCausalLM}


def evaluate_text(cfg: EvaluateConfig, folder: Run) -> dict:
    tokenizer = load_tokenizer(folder.exported / "hf")
    seq_len = int(folder.config.get("seq_len") or 128)
    backbone = load_run_backbone(folder).eval()
    train, test = text_splits(cfg)

    def features(corpus: Corpus) -> tuple[torch.Tensor, torch.Tensor]:
        data = tokenize_corpus(corpus, tokenizer=tokenizer, max_length=seq_len)
        return extract_features(backbone, data, batch_size=cfg.batch_size, progress=cfg.progress)

    (tr_f, tr_y), (te_f, te_y) = features(train), features(test)
    k = len(train.classes)
    fit_idx, val_idx = split_train_val(range(len(tr_y)), tr_y.numpy(), val_fraction=0.1, seed=cfg.seed)
    fit_idx, val_idx = torch.from_numpy(fit_idx), torch.from_numpy(val_idx)
    probe = linear_probe(tr_f[fit_idx], tr_y[fit_idx], tr_f[val_idx], tr_y[val_idx], te_f, te_y, num_classes=k)
    return {"knn": knn_accuracy(tr_f, tr_y, te_f, te_y, k=cfg.knn_k, num_classes=k), "knn_k": cfg.knn_k,
            "linear_probe": probe.test_accuracy, "linear_probe_val": probe.val_accuracy,
            "linear_probe_l2": probe.weight_decay, "eval_data": cfg.data, "eval_train": len(train),
            "eval_test": len(test), **perplexity(folder, tokenizer, seq_len)}


def text_splits(cfg: EvaluateConfig) -> tuple[Corpus, Corpus]:
    """(train, test) labeled documents of `--data`, each optionally cut to a stratified share."""
    train, test = open_text(cfg.data, split="train"), open_text(cfg.data, split="test")
    if not train.classes:
        raise HeadstartError(f"{cfg.data} has no labels", fix="pass labeled text (class folders, a label column) "
                             "such as fortunes-topic")
    train = train.subset(np.flatnonzero(train.labels >= 0))
    if test.source == train.source:
        keep, held = split_train_val(range(len(train)), train.labels, val_fraction=0.2, seed=cfg.seed)
        train, test = train.subset(keep), train.subset(held)
    else:
        test = test.subset(np.flatnonzero(test.labels >= 0))
    if cfg.labels:
        train = train.subset(label_subset(train.labels, labels_budget=cfg.labels, seed=cfg.seed))
    if cfg.test_labels:
        test = test.subset(label_subset(test.labels, labels_budget=cfg.test_labels, seed=cfg.seed))
    return train, test


def perplexity(folder: Run, tokenizer, seq_len: int) -> dict:
    """The exported language model's held-out perplexity on the pretraining corpus (mlm, next-token)."""
    objective = {"mlm": "mlm", "next-token": "next-token"}.get(folder.method or "")
    if objective is None or not folder.pretrain_data:
        return {}
    seed = int(folder.config.get("seed") or 0)
    windows = heldout_windows(split_corpus(folder.pretrain_data, seed=seed)[1], tokenizer, seq_len, seed)
    if windows is None:
        return {}
    quiet = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        lm = LM_CLASS[objective].from_pretrained(folder.exported / "hf", local_files_only=True).eval()
    finally:
        hf_logging.set_verbosity(quiet)
    value = heldout_perplexity(lambda ids: lm(input_ids=ids).logits, windows, objective=objective,
                               pad_id=int(lm.config.pad_token_id if lm.config.pad_token_id is not None else -1),
                               mask_id=tokenizer.mask_token_id, vocab_size=int(lm.config.vocab_size),
                               special_ids=sorted(set(tokenizer.all_special_ids)), seed=seed)
    return {"perplexity": value, "perplexity_kind": objective, "perplexity_data": folder.pretrain_data}


def embed_text(cfg: EmbedConfig, folder: Run) -> list[Path]:
    tokenizer = load_tokenizer(folder.exported / "hf")
    seq_len = int(folder.config.get("seq_len") or 128)
    corpus = open_text(cfg.data, split="train")
    backbone = load_run_backbone(folder).eval()
    data = tokenize_corpus(corpus, tokenizer=tokenizer, max_length=seq_len)
    feats, _ = extract_features(backbone, data, batch_size=cfg.batch_size, progress=cfg.progress)
    return write_text_embeddings(feats.numpy(), corpus, cfg.out)


def write_text_embeddings(feats: np.ndarray, corpus: Corpus, out: Path) -> list[Path]:
    """`embeddings.npy` (N, D) float32 and `index.csv` (row, path, label, text)."""
    out.mkdir(parents=True, exist_ok=True)
    labels = [corpus.classes[y] if y >= 0 and corpus.classes else "" for y in corpus.labels.tolist()]
    origins = corpus.origins or [""] * len(corpus)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["row", "path", "label", "text"])
    w.writerows((i, o, lab, t) for i, (o, lab, t) in enumerate(zip(origins, labels, corpus.texts)))
    write_text(out / "index.csv", buf.getvalue())
    atomic_write(out / "embeddings.npy", lambda f: np.save(f, feats.astype(np.float32)))
    return [out / "index.csv", out / "embeddings.npy"]
