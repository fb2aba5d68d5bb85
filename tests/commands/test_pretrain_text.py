"""`headstart pretrain` on text, end to end on real fortunes text with tiny settings: the run folder
(tokenizer/, exported/hf/, results.json with held-out perplexity and kNN, tokens/s in metrics.csv),
the exported folder loaded by `transformers` alone with the same outputs as headstart, evaluate
and embed on the run, continued pretraining of a local HF folder, refusals, and resume bit for bit."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

import headstart
from headstart.cli.main import main
from headstart.data.text.fortunes import open_fortunes
from headstart.data.text.tokenizer import load_tokenizer
from headstart.errors import HeadstartError
from headstart.methods import method_class
from headstart.models.factory import load_run_backbone
from headstart.models.text import create_text_backbone
from headstart.train.text_callbacks import TokenThroughput

TINY = {"batch_size": 8, "seq_len": 32, "method_args": {"vocab_size": 400}, "accelerator": "cpu",
        "precision": "32", "progress": False, "num_workers": 0}
TEXTS = ["It is a test of the exported model.", "Another fortune, shorter."]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    """1,200 real fortunes as JSONL (one {"text": ...} per line): a corpus without a test split."""
    path = tmp_path_factory.mktemp("corpus") / "fortunes.jsonl"
    texts = open_fortunes("fortunes", split="train").texts[:1200]
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def labeled_file(tmp_path_factory):
    """240 real fortunes of the topic task's test split, 20 per topic, as JSONL with text and label."""
    topic = open_fortunes("fortunes-topic", split="test")
    rows = [i for c in range(len(topic.classes)) for i in np.flatnonzero(topic.labels == c)[:20]]
    path = tmp_path_factory.mktemp("labeled") / "topics.jsonl"
    path.write_text("".join(json.dumps({"text": topic.texts[i], "label": topic.classes[topic.labels[i]]}) + "\n"
                            for i in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def mlm_run(tmp_path_factory, corpus_file, labeled_file):
    out = tmp_path_factory.mktemp("mlm") / "run"
    result = headstart.pretrain(data=str(corpus_file), model="headstart/bert-mini", method="mlm", out=out, steps=3,
                                val_data=str(labeled_file), **TINY)
    return out, result


def rebuilt(run, name: str):
    """The run's method with its last checkpoint's weights (the head included)."""
    tok = load_tokenizer(run / "tokenizer")
    cfg = headstart.config.parse(method_class(name).config_cls, {})
    config = json.loads((run / "exported" / "hf" / "config.json").read_text())
    model = "headstart/bert-mini" if config["model_type"] == "bert" else "headstart/gpt-mini"
    from headstart.train.module import Plan

    method = method_class(name)(create_text_backbone(model, tokenizer=tok), cfg,
                                Plan(total_steps=1, batch_size=2, image_size=0, lr=1e-3, weight_decay=0.0),
                                tokenizer=tok)
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    method.load_state_dict(state)
    return method.eval(), tok


def test_pretrain_mlm__run_folder_holds_tokenizer_hf_folder_perplexity_knn_and_tokens_per_s(mlm_run):
    out, result = mlm_run
    assert result.steps == 3 and result.perplexity is not None and 1 < result.perplexity < 1000
    assert len(load_tokenizer(out / "tokenizer")) == 400
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in (out / "exported" / "hf").iterdir()}
    assert (out / "exported" / "backbone.safetensors").is_file()
    res = json.loads((out / "results.json").read_text())
    assert res["perplexity_kind"] == "mlm" and res["perplexity"] == result.perplexity
    assert [row["step"] for row in res["monitor"]] == [1, 2, 3]
    assert 0.0 < res["knn"] < 1.0  # --val-data has labels: the kNN monitor ran (12 topics, half as the bank)
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert any(float(r["tok_s"]) > 0 for r in rows if r.get("tok_s"))


def test_exported_hf__transformers_alone_gives_headstart_s_embeddings_and_mlm_logits(mlm_run, tmp_path):
    out, _ = mlm_run
    assert main(["export", "--run", str(out), "--format", "hf", "--out", str(tmp_path / "my-model")]) == 0
    folder = tmp_path / "my-model"
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    base = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    enc = tok(TEXTS, padding=True, return_tensors="pt")
    ours = load_run_backbone(out).eval()
    with torch.no_grad():
        states = base(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        theirs = (states * mask).sum(1) / mask.sum(1)
        assert torch.allclose(theirs, ours(enc["input_ids"]), atol=1e-5)
        method, _ = rebuilt(out, "mlm")
        lm = AutoModelForMaskedLM.from_pretrained(folder, local_files_only=True).eval()
        assert torch.allclose(lm(**enc).logits, method.lm_logits(enc["input_ids"]), atol=1e-4)


def test_evaluate_and_embed__on_a_text_run(mlm_run, tmp_path, labeled_file):
    out, result = mlm_run
    res = headstart.evaluate(run=out, data="fortunes-topic", labels="240", test_labels="120", progress=False)
    assert 0 < res["knn"] < 1 and 0 < res["linear_probe"] < 1 and (res["eval_train"], res["eval_test"]) == (240, 120)
    assert res["perplexity"] == pytest.approx(result.perplexity, rel=1e-4)  # the monitor's last figure
    headstart.embed(run=out, data=str(labeled_file), out=tmp_path / "emb", progress=False)
    rows = list(csv.DictReader((tmp_path / "emb" / "index.csv").open()))
    emb = np.load(tmp_path / "emb" / "embeddings.npy")
    assert emb.shape == (len(rows), 256) and len(rows) > 200 and rows[0]["text"] and rows[0]["label"]


def test_pretrain_next_token__causal_lm_loads_with_the_method_s_logits(tmp_path, corpus_file):
    out = tmp_path / "gpt"
    result = headstart.pretrain(data=str(corpus_file), model="headstart/gpt-mini", method="next-token", out=out,
                                steps=2, **TINY)
    assert result.perplexity is not None  # a seeded 2% of a corpus without a test split is held out
    folder = out / "exported" / "hf"
    lm = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    ids = tok(TEXTS[0], return_tensors="pt")["input_ids"]
    method, _ = rebuilt(out, "next-token")
    with torch.no_grad():
        assert torch.allclose(lm(input_ids=ids).logits, method.lm_logits(ids), atol=1e-4)


def test_pretrain__continues_a_local_hf_checkpoint_with_its_tokenizer(mlm_run, tmp_path, corpus_file):
    src, _ = mlm_run
    out = tmp_path / "cont"
    headstart.pretrain(data=str(corpus_file), model=f"hf:{src / 'exported' / 'hf'}", method="mlm", out=out, steps=2,
                       monitor=False, **TINY)
    assert (out / "tokenizer" / "tokenizer.json").read_text() == (src / "tokenizer" / "tokenizer.json").read_text()
    before = AutoModelForMaskedLM.from_pretrained(src / "exported" / "hf", local_files_only=True)
    after = AutoModelForMaskedLM.from_pretrained(out / "exported" / "hf", local_files_only=True)
    b, a = before.state_dict(), after.state_dict()
    assert a.keys() == b.keys()
    moved = [k for k in a if not torch.equal(a[k], b[k])]
    assert moved and all((a[k] - b[k]).abs().max() < 0.05 for k in a)  # two small steps from the checkpoint


@pytest.mark.parametrize(("model", "method", "message"), [
    ("headstart/gpt-mini", "mlm", "--method mlm trains encoder models; headstart/gpt-mini is a decoder"),
    ("headstart/bert-mini", "next-token", "--method next-token trains decoder models; headstart/bert-mini is an encoder"),
    ("headstart/bert-mini", "simclr", "--method simclr pretrains image models; headstart/bert-mini is a text model"),
    ("headstart/resnet-mini", "mlm", "--method mlm pretrains text models; headstart/resnet-mini is an image model"),
])
def test_pretrain__method_that_does_not_fit_the_model_is_refused_in_one_line(tmp_path, model, method, message):
    with pytest.raises(HeadstartError) as err:
        headstart.pretrain(data="fortunes-topic", model=model, method=method, out=tmp_path / "r", steps=1, **TINY)
    assert message in str(err.value) and "\n" not in str(err.value).strip()
    assert not (tmp_path / "r").exists()


def test_pretrain_text__crash_then_resume_is_bit_identical(tmp_path, corpus_file, monkeypatch):
    common = dict(data=str(corpus_file), model="headstart/bert-mini", method="mlm", steps=5, seed=3,
                  checkpoint_every="1steps", **TINY)
    headstart.pretrain(out=tmp_path / "ref", **common)
    real = TokenThroughput.on_train_batch_end

    def crash(self, trainer, module, *args):
        if trainer.global_step == 3:
            raise RuntimeError("simulated crash")
        return real(self, trainer, module, *args)

    monkeypatch.setattr(TokenThroughput, "on_train_batch_end", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        headstart.pretrain(out=tmp_path / "cut", **common)
    monkeypatch.undo()
    assert torch.load(tmp_path / "cut" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] < 5
    headstart.pretrain(out=tmp_path / "cut", resume=True, **common)
    ref = torch.load(tmp_path / "ref" / "checkpoints" / "last.ckpt", weights_only=False)
    cut = torch.load(tmp_path / "cut" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ref["global_step"] == cut["global_step"] == 5
    diff = [k for k in ref["state_dict"] if not torch.equal(ref["state_dict"][k], cut["state_dict"][k])]
    assert diff == []
    assert (tmp_path / "ref" / "exported" / "backbone.safetensors").read_bytes() == \
        (tmp_path / "cut" / "exported" / "backbone.safetensors").read_bytes()
    r, c = (json.loads((tmp_path / p / "results.json").read_text())["monitor"] for p in ("ref", "cut"))
    assert r == c  # the held-out perplexity at every measured step, carried through the checkpoint


def test_pretrain_text__compile_on_trains_and_exports_plain_weights(tmp_path, corpus_file):
    """`--compile on` on a CPU: inductor compiles bert-mini, the run trains, and its export is the plain
    model's (no `_orig_mod.` names), loadable by transformers."""
    out = tmp_path / "compiled"
    headstart.pretrain(data=str(corpus_file), model="headstart/bert-mini", method="mlm", out=out, steps=2,
                       compile="on", monitor=False, **TINY)
    state = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    assert not any("_orig_mod" in k for k in state)
    model = AutoModel.from_pretrained(out / "exported" / "hf", local_files_only=True).eval()
    tok = AutoTokenizer.from_pretrained(out / "exported" / "hf", local_files_only=True)
    with torch.no_grad():
        assert torch.isfinite(model(**tok(TEXTS[0], return_tensors="pt")).last_hidden_state).all()
