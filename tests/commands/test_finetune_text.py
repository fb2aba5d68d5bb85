"""`headstart finetune` on text, through the same pipeline as images: every strategy for a few steps
on fortunes-topic from a tiny MLM run; results.json with test and validation accuracy and forgetting
(kNN on labeled text, held-out perplexity of the run's language-model head); from scratch with a
tokenizer trained on the data; CSV and class-folder data; the refusals."""

from __future__ import annotations

import json

import pytest

import headstart
from headstart.data.text.fortunes import open_fortunes
from headstart.data.text.tokenizer import load_tokenizer
from headstart.errors import HeadstartError
from headstart.models.factory import load_run_backbone

FAST = {"accelerator": "cpu", "precision": "32", "progress": False, "num_workers": 0, "seq_len": 32, "batch_size": 16}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """800 real unlabeled fortunes of every language as JSONL: a corpus without a test split."""
    path = tmp_path_factory.mktemp("corpus") / "fortunes.jsonl"
    texts = open_fortunes("fortunes", split="train").texts[::100][:800]
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def text_run(tmp_path_factory, corpus):
    """A tiny finished MLM run of bert-mini on the corpus (3 steps, 400-token vocabulary)."""
    out = tmp_path_factory.mktemp("text-runs") / "mlm"
    headstart.pretrain(data=str(corpus), model="headstart/bert-mini", method="mlm", out=out, steps=3,
                       batch_size=8, seq_len=32, method_args={"vocab_size": 400}, accelerator="cpu",
                       precision="32", progress=False, num_workers=0)
    return out


@pytest.fixture(scope="session")
def labeled_csv(tmp_path_factory):
    """240 real fortunes of 4 topics as CSV (text,label): labeled text without a test split."""
    data = open_fortunes("fortunes-topic", split="train")
    keep = [i for i, y in enumerate(data.labels) if data.classes[y] in ("computers", "food", "law", "love")]
    rows = [(data.texts[i], data.classes[data.labels[i]]) for i in keep]
    by_class: dict[str, list] = {}
    for text, label in rows:
        by_class.setdefault(label, []).append(text)
    import csv

    path = tmp_path_factory.mktemp("labeled") / "topics.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for label, texts in by_class.items():
            for t in texts[:60]:
                w.writerow([t, label])
    return path


def finetuned(text_run, labeled_csv, tmp_path, **kwargs):
    out = tmp_path / "ft"
    args = {"from_": str(text_run), "data": "fortunes-topic", "per_class": 5, "steps": 3, "out": out,
            "forgetting_data": str(labeled_csv), **FAST}
    result = headstart.finetune(**{**args, **kwargs})
    return result, json.loads((out / "results.json").read_text()), out


@pytest.mark.parametrize("strategy, extra", [
    ("linear", {}),
    ("full", {"layer_decay": 0.7, "backbone_lr_mult": 0.5}),
    ("lp-ft", {}),
    ("lora", {"lora_rank": 4}),
    ("freeze", {"freeze_blocks": 3, "unfreeze_every": 1}),
])
def test_finetune_text__every_strategy_records_accuracy_and_forgetting(text_run, labeled_csv, tmp_path,
                                                                       strategy, extra):
    result, res, out = finetuned(text_run, labeled_csv, tmp_path, strategy=strategy, **extra)
    assert res["strategy"] == strategy and res["steps"] == 3
    assert res["train_labels"] + res["val_labels"] == 60 and res["test_size"] == 893
    assert 0.0 <= res["accuracy"] <= 1.0 and 0.0 <= res["val_accuracy"] <= 1.0
    assert result.accuracy == res["accuracy"]
    assert len(res["classes"]) == 12
    f = res["forgetting"]
    assert 0.0 < f["before"] <= 1.0 and 0.0 < f["after"] <= 1.0 and f["drop"] == pytest.approx(f["before"] - f["after"])
    ppl = f["perplexity"]
    assert ppl["objective"] == "mlm" and ppl["data"].endswith("fortunes.jsonl") and ppl["windows"] > 0
    assert 1.0 < ppl["before"] < 1000 and 1.0 < ppl["after"] and ppl["increase"] == pytest.approx(
        ppl["after"] - ppl["before"])
    assert len(load_tokenizer(out / "tokenizer")) == 400  # the run's own tokenizer, kept with the run
    if strategy == "linear":
        assert ppl["after"] == pytest.approx(ppl["before"])  # a frozen backbone forgets nothing
        assert f["after"] == pytest.approx(f["before"]) and res["trainable_share"] < 0.01
    if strategy == "lora":
        assert res["trainable_share"] < 0.2
        assert set(load_run_backbone(out).module.state_dict()) == set(load_run_backbone(text_run).module.state_dict())


def test_finetune_text__perplexity_before_is_the_pretraining_run_s_own(text_run, labeled_csv, tmp_path):
    """The same windows, masks and head as the pretraining monitor: the start's perplexity is its figure."""
    _, res, _ = finetuned(text_run, labeled_csv, tmp_path, strategy="linear", steps=2)
    pre = json.loads((text_run / "results.json").read_text())
    assert res["forgetting"]["perplexity"]["before"] == pytest.approx(pre["perplexity"], rel=1e-4)


def test_finetune_text__blend_sweep_blends_and_measures_the_blend(text_run, labeled_csv, tmp_path):
    _, res, _ = finetuned(text_run, labeled_csv, tmp_path, strategy="full", blend="sweep")
    assert set(res["blend_sweep"]) == {"0.0", "0.25", "0.5", "0.75", "1.0"} and res["blend"] in (0, .25, .5, .75, 1)
    assert "blended" in res["forgetting"] and "blended" in res["forgetting"]["perplexity"]


def test_finetune_text__from_scratch_trains_a_tokenizer_on_the_data(labeled_csv, tmp_path):
    out = tmp_path / "scratch"
    result = headstart.finetune(from_="scratch", model="headstart/bert-mini", data=str(labeled_csv), per_class=20,
                                steps=3, out=out, **FAST)
    res = json.loads((out / "results.json").read_text())
    assert res["forgetting"] is None and res["strategy"] == "full" and result.accuracy is None  # no test split
    assert res["classes"] == ["computers", "food", "law", "love"] and res["train_labels"] + res["val_labels"] == 80
    tok = load_tokenizer(out / "tokenizer")
    assert 300 < len(tok) <= 8192
    assert load_run_backbone(out).meta.extra["vocab_size"] == len(tok)


def test_finetune_text__class_folders_of_txt_files(text_run, tmp_path):
    data = open_fortunes("fortunes-topic", split="train")
    for split in ("train", "test"):
        for name in ("art", "sports"):
            folder = tmp_path / "topics" / split / name
            folder.mkdir(parents=True)
            texts = [t for t, y in zip(data.texts, data.labels) if data.classes[y] == name]
            for i, text in enumerate(texts[:20] if split == "train" else texts[20:30]):
                (folder / f"{i}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "ft"
    headstart.finetune(from_=str(text_run), data=str(tmp_path / "topics"), strategy="linear", steps=2, out=out,
                       **FAST)
    res = json.loads((out / "results.json").read_text())
    assert res["classes"] == ["art", "sports"] and res["test_size"] == 20
    assert res["train_labels"] + res["val_labels"] == 40


def test_finetune_text__image_model_on_text_is_refused_in_one_line(tmp_path):
    with pytest.raises(HeadstartError, match="is text, but headstart/resnet-mini is an image model"):
        headstart.finetune(from_="scratch", model="headstart/resnet-mini", data="fortunes-topic", per_class=5,
                           steps=1, out=tmp_path / "x", **FAST)


def test_finetune_text__weights_file_without_tokenizer_is_refused(text_run, tmp_path):
    with pytest.raises(HeadstartError, match="holds no tokenizer"):
        headstart.finetune(from_=str(text_run / "exported" / "backbone.safetensors"), model="headstart/bert-mini",
                           data="fortunes-topic", per_class=5, steps=1, out=tmp_path / "x", **FAST)
