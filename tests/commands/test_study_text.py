"""A tiny real text study end to end: MLM pretraining of bert-mini, fine-tuning cells from scratch and
pretrained, the TF-IDF + logistic-regression cells on the same label subsets, the answer against the
classic baseline, and the report with the TF-IDF curve."""

from __future__ import annotations

import json

import pytest
import yaml


@pytest.fixture(scope="module")
def text_study(tmp_path_factory):
    import headstart

    out = tmp_path_factory.mktemp("study-text") / "s"
    fast = {"accelerator": "cpu", "precision": "32", "num_workers": 0}
    result = headstart.study(data="fortunes-topic", labeled="fortunes-topic", model="headstart/bert-mini",
                             method="mlm", budgets=["5/class"], seeds=1, strategies=["linear"], pretrain_steps=2,
                             finetune_steps=2, batch_size=8, out=out, progress=False,
                             pretrain_args={"seq_len": 32, "method_args": {"vocab_size": 400}, "monitor": False,
                                            **fast},
                             finetune_args={"batch_size": 16, "seq_len": 32, **fast})
    return result


def test_study_text__tfidf_curve_beside_scratch_and_pretrained(text_study):
    results = json.loads((text_study.run / "results.json").read_text())
    assert set(results["curves"]) == {"scratch/full", "pretrained/linear", "tfidf/logreg"}
    cells = {c["start"]: c for c in results["cells"]}
    tfidf = cells["tfidf"]
    assert tfidf["labels"] == cells["pretrained"]["labels"] == 60  # the same 5/class subset of 12 topics
    assert 0.1 < tfidf["accuracy"] < 0.4 and 0.0 <= tfidf["val_accuracy"] <= 1.0
    assert results["reference"]["baseline"] == "tfidf/logreg" and results["reference"]["curve"] == "pretrained/linear"
    assert "against the classic baseline" in results["answer"] and "TF-IDF + logreg" in results["answer"]
    assert results["frozen_knn"] is None


def test_study_text__scratch_reads_text_with_the_pretrained_tokenizer(text_study):
    cells = {c["start"]: c for c in json.loads((text_study.run / "results.json").read_text())["cells"]}
    cfg = yaml.safe_load((text_study.run / "finetune" / cells["scratch"]["id"] / "config.yaml").read_text())
    assert cfg["tokenizer"] == str(text_study.run / "pretrain" / "tokenizer")


def test_study_text__report_shows_the_tfidf_curve(text_study):
    page = (text_study.run / "report.html").read_text()
    assert "tfidf/logreg" in page and "TF-IDF of character 2-5-grams" in page
    for name in ("paired_gain", "label_efficiency", "confusion"):
        assert (text_study.run / "plots" / f"{name}.png").stat().st_size > 5_000, name
