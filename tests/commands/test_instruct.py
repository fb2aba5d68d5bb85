"""Language-model adaptation end to end on real fortunes: `finetune --task instruct` (lora, qlora, full
with --blend, scratch), `align --method dpo`, `generate`, `evaluate` and `export --format hf` of the
merged model (transformers loads it without headstart and computes what headstart computes); the
refusals in one line."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import headstart
from headstart.adapt.causal_lm import load_causal_lm
from headstart.commands.align import policy_rejected
from headstart.data.text.fortunes import open_fortunes
from headstart.data.text.instruct import CHAT_TEMPLATE, read_examples
from headstart.data.text.instruct_sources import eval_views
from headstart.data.text.tokenizer import load_tokenizer
from headstart.errors import HeadstartError

FAST = {"accelerator": "cpu", "precision": "32", "progress": False, "num_workers": 0}
LM = {**FAST, "seq_len": 64, "batch_size": 4, "steps": 2, "test_split": False}


@pytest.fixture(scope="session")
def gpt_run(tmp_path_factory):
    """A tiny finished next-token run of gpt-mini on 600 real fortunes (2 steps, 1000-token vocabulary)."""
    root = tmp_path_factory.mktemp("lm")
    corpus = root / "corpus.jsonl"
    texts = open_fortunes("fortunes", split="train").texts[::150][:600]
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    out = root / "gpt"
    headstart.pretrain(data=str(corpus), model="headstart/gpt-mini", method="next-token", out=out, steps=2,
                       batch_size=4, seq_len=32, method_args={"vocab_size": 1000}, **FAST)
    return out


@pytest.fixture(scope="session")
def lm_files(tmp_path_factory):
    """sft.jsonl (prompt/response) and prefs.jsonl (prompt/chosen/rejected): 24 real topic examples."""
    root = tmp_path_factory.mktemp("lm-data")
    sft, pairs = eval_views("fortunes-instruct-topic:test")
    (root / "sft.jsonl").write_text("".join(json.dumps({"prompt": e.prompt[0]["content"], "response": e.answer})
                                            + "\n" for e in sft[::14][:24]), encoding="utf-8")
    (root / "prefs.jsonl").write_text("".join(json.dumps({"prompt": p.prompt[0]["content"], "chosen": p.chosen,
                                                          "rejected": p.rejected}) + "\n" for p in pairs[::14][:24]),
                                      encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def sft_run(gpt_run, lm_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("sft") / "lora"
    headstart.finetune(from_=str(gpt_run), data=str(lm_files / "sft.jsonl"), task="instruct", strategy="lora",
                       lora_rank=4, out=out, **LM)
    return out


def results(run):
    return json.loads((run / "results.json").read_text())


def test_finetune_instruct__lora_records_figures(sft_run, gpt_run):
    r = results(sft_run)
    assert r["task"] == "instruct" and r["strategy"] == "lora" and r["steps"] == 2
    assert r["train_examples"] + r["val_examples"] == 24 and r["scored_on"] == "val"
    assert 0 < r["trainable_share"] < 0.10 and 0 <= r["exact_match"] <= 1
    ppl = r["forgetting"]["perplexity"]
    assert ppl["run"] == str(gpt_run) and ppl["before"] > 1 and ppl["after"] > 1 and ppl["windows"] > 0
    assert r["peak_rss_mb"] > 100 and r["tokens_per_s"] > 0


def test_export_hf__merged_model_loads_without_headstart_with_its_chat_template(sft_run, tmp_path):
    folder = headstart.export(run=sft_run, format="hf", out=tmp_path / "llm")
    lm = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    assert tok.chat_template == CHAT_TEMPLATE
    ids = torch.tensor([tok.apply_chat_template([{"role": "user", "content": "Which topic? Food."}],
                                                add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]])
    ours = load_causal_lm(str(sft_run)).eval()
    with torch.no_grad():
        assert torch.allclose(lm(input_ids=ids).logits, ours(ids), atol=1e-5)
    assert not any("lora" in name for name, _ in lm.named_parameters())  # merged: plain weights


@pytest.mark.parametrize("rejected", ["data", "policy"])
def test_align_dpo__scores_pairs_against_its_start(sft_run, lm_files, tmp_path, rejected):
    result = headstart.align(from_=str(sft_run), data=str(lm_files / "prefs.jsonl"), method="dpo", beta=0.2,
                             rejected=rejected, out=tmp_path / "dpo", **LM)
    r = results(tmp_path / "dpo")
    assert r["task"] == "align" and r["method"] == "dpo" and r["trainable_share"] == pytest.approx(1.0)
    assert r["rejected"] == rejected and (r["policy_rejected_pairs"] > 0) == (rejected == "policy")
    assert r["pretrain_run"] == results(sft_run)["pretrain_run"]  # forgetting measured on the same corpus
    assert 0 <= r["preference"]["accuracy"] <= 1 and r["preference"]["pairs"] == r["val_pairs"]
    assert result.preference == r["preference"]


def test_policy_rejected__the_start_models_own_answers_where_not_the_chosen_one(sft_run, lm_files):
    tokenizer = load_tokenizer(sft_run / "exported" / "hf")
    model = load_causal_lm(str(sft_run))
    pairs = read_examples(lm_files / "prefs.jsonl", kind="pref")[:5]
    out, replaced = policy_rejected(model, pairs, tokenizer, device="cpu", prompt_tokens=512, show=False,
                                    max_new_tokens=6)
    assert replaced == 5  # two steps of training: the model answers none right
    said = headstart.generate(run=str(sft_run), prompts=_prompts(pairs[:1], lm_files), out=lm_files / "said.jsonl",
                              max_new_tokens=6, accelerator="cpu", max_prompt_tokens=0)  # whole, as 512 keeps it
    assert out[0].rejected == json.loads(said.read_text())["output"].strip()
    right = [dataclasses.replace(pairs[0], chosen=f" {out[0].rejected.upper()} "), *pairs[1:]]  # case, spaces
    again, replaced = policy_rejected(model, right, tokenizer, device="cpu", prompt_tokens=512, show=False,
                                      max_new_tokens=6)
    assert replaced == 4 and again[0].rejected == pairs[0].rejected and again[1:] == out[1:]


def _prompts(pairs, folder):
    path = folder / "prompts.jsonl"
    path.write_text("".join(json.dumps({"messages": list(p.prompt)}) + "\n" for p in pairs), encoding="utf-8")
    return path


def test_finetune_instruct__qlora_and_full_blend(gpt_run, lm_files, tmp_path):
    q = headstart.finetune(from_=str(gpt_run), data=str(lm_files / "sft.jsonl"), task="instruct",
                           strategy="qlora", lora_rank=4, out=tmp_path / "q", **LM)
    assert 0 < q.trainable_share < 0.10
    lm = AutoModelForCausalLM.from_pretrained(tmp_path / "q" / "exported" / "hf", local_files_only=True)
    assert all(p.dtype == torch.float32 for p in lm.parameters())  # dequantised and merged
    b = headstart.finetune(from_=str(gpt_run), data=str(lm_files / "sft.jsonl"), task="instruct", strategy="full",
                           blend=0.5, out=tmp_path / "b", **LM)
    r = results(tmp_path / "b")
    assert r["blend"] == {"alpha": 0.5} and b.trainable_share == pytest.approx(1.0)
    assert r["forgetting"]["perplexity"]["after"] > 1


def test_generate__prompt_and_prompts_file_greedy_repeatable(sft_run, tmp_path, capsys):
    text = headstart.generate(run=str(sft_run), prompt="Which topic is this text about? Food.", max_new_tokens=5)
    assert text in capsys.readouterr().out
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "Which topic?"}\n{"messages": [{"role": "user", "content": "Say law."}]}\n')
    outs = []
    for name in ("a.jsonl", "b.jsonl"):
        headstart.generate(run=str(sft_run), prompts=prompts, out=tmp_path / name, max_new_tokens=6)
        outs.append([json.loads(line)["output"] for line in (tmp_path / name).read_text().splitlines()])
    assert len(outs[0]) == 2 and outs[0] == outs[1]
    sampled = headstart.generate(run=str(sft_run), prompt="Food", max_new_tokens=12, temperature=1.5, top_k=50,
                                 top_p=0.9, seed=1)
    assert isinstance(sampled, str)


def test_generate__a_long_prompt_is_cut_as_the_run_was_trained(sft_run, lm_files, tmp_path, caplog):
    from headstart.adapt.lm.config import GenerateConfig
    from headstart.commands.generate import PromptCut, prompt_budget

    budget = results(sft_run)["prompt_tokens"]
    assert 0 < budget < LM["seq_len"]  # seq_len minus the answer room of the training set
    assert prompt_budget(GenerateConfig(run=str(sft_run))) == budget
    assert prompt_budget(GenerateConfig(run=str(sft_run), max_prompt_tokens=0)) is None
    cut = PromptCut(budget)
    assert cut(list(range(budget))) == list(range(budget)) and cut(list(range(budget + 9))) == list(range(9, budget + 9))
    long = " ".join(open_fortunes("fortunes", split="test").texts[:8])
    with caplog.at_level("INFO", logger="headstart"):
        auto = headstart.generate(run=str(sft_run), prompt=long, max_new_tokens=4)
    assert f"keeps its last {budget}" in caplog.text
    assert auto == headstart.generate(run=str(sft_run), prompt=long, max_new_tokens=4, max_prompt_tokens=budget)


def test_evaluate__instruct_run_on_a_pairs_file(sft_run, lm_files):
    out = headstart.evaluate(run=sft_run, data=str(lm_files / "prefs.jsonl"))["evaluation"]
    assert out["instructions"] == 24 and out["preference"]["pairs"] == 24
    assert "reward_margin" in out["preference"]  # against the run's start (the pretraining run)
    assert out["forgetting"]["perplexity"]["before"] > 1


def test_finetune_instruct__from_scratch_has_no_forgetting(gpt_run, lm_files, tmp_path):
    r = headstart.finetune(from_="scratch", model="headstart/gpt-mini", tokenizer=gpt_run / "tokenizer",
                           data=str(lm_files / "sft.jsonl"), task="instruct", strategy="full", out=tmp_path / "s", **LM)
    assert r.forgetting is None and r.trainable_share == pytest.approx(1.0)


def test_refusals__one_line_each(gpt_run, lm_files, tmp_path):
    with pytest.raises(HeadstartError, match="--strategy linear does not adapt a language model"):
        headstart.finetune(from_=str(gpt_run), data=str(lm_files / "sft.jsonl"), task="instruct", strategy="linear",
                           out=tmp_path / "x", **LM)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "only"}\n')
    with pytest.warns(UserWarning, match="bad.jsonl:1"), pytest.raises(HeadstartError, match="no usable example"):
        headstart.finetune(from_=str(gpt_run), data=str(bad), task="instruct", out=tmp_path / "y", **LM)
    with pytest.raises(HeadstartError, match="pass one of --prompt and --prompts"):
        headstart.generate(run=str(gpt_run))
    with pytest.raises(HeadstartError, match=r"--skip-labels 100% leaves 0 of the 24 examples"):
        headstart.align(from_=str(gpt_run), data=str(lm_files / "prefs.jsonl"), skip_labels="100%",
                        out=tmp_path / "z", **LM)
    assert not (tmp_path / "z").exists()  # refused before a run folder is made


@pytest.mark.parametrize("command", ["align", "generate"])
def test_cli__help(command):
    out = subprocess.run([sys.executable, "-m", "headstart.cli.main", command, "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert ("--beta" in out) if command == "align" else ("--max-new-tokens" in out and "--top-p" in out)


def test_cli__bad_strategy_is_one_line(gpt_run, lm_files, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "headstart.cli.main", "align", "--from", str(gpt_run), "--data",
                           str(lm_files / "prefs.jsonl"), "--strategy", "lp-ft", "--out", str(tmp_path / "a")],
                          check=False, capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "headstart align: error: --strategy lp-ft does not adapt a language model — pass one of: full, lora")


def test_finetune_instruct__stopped_midway_and_resumed_ends_as_an_uninterrupted_run(gpt_run, lm_files, tmp_path,
                                                                                    stop_training_at):
    from safetensors.torch import load_file

    from headstart.adapt.instruct_module import InstructModule

    opts = {**LM, "steps": 6, "checkpoint_every": "1steps", "seed": 3}
    data = str(lm_files / "sft.jsonl")
    headstart.finetune(from_=str(gpt_run), data=data, task="instruct", strategy="full", out=tmp_path / "whole", **opts)
    undo = stop_training_at(InstructModule, 3)
    with pytest.raises(RuntimeError, match="stopped"):
        headstart.finetune(from_=str(gpt_run), data=data, task="instruct", strategy="full", out=tmp_path / "cut",
                           **opts)
    saved = torch.load(tmp_path / "cut" / "checkpoints" / "last.ckpt", weights_only=False)
    assert saved["global_step"] == 3  # the resumed run starts from here, not from the beginning
    undo()
    headstart.finetune(from_=str(gpt_run), data=data, task="instruct", strategy="full", out=tmp_path / "cut",
                       resume=True, **opts)
    whole = load_file(tmp_path / "whole" / "exported" / "hf" / "model.safetensors")
    cut = load_file(tmp_path / "cut" / "exported" / "hf" / "model.safetensors")
    assert whole.keys() == cut.keys() and len(whole) > 10
    different = [k for k in whole if not torch.equal(whole[k], cut[k])]
    assert not different, different[:5]
    assert results(tmp_path / "cut")["exact_match"] == results(tmp_path / "whole")["exact_match"]


def test_split_train_val__skip_leaves_out_what_the_same_seed_budget_trained_on():
    from headstart.commands._instruct import split_train_val
    from headstart.data.text.instruct_sources import open_examples

    sft = open_examples("fortunes-instruct-lang", split="train", kind="sft")
    pairs = open_examples("fortunes-instruct-lang", split="train", kind="pref")
    assert [e.prompt for e in sft] == [p.prompt for p in pairs]  # two views, one order
    train, val = split_train_val(sft, budget="50%", val_fraction=0.1, seed=3)
    rest_train, rest_val = split_train_val(pairs, budget=None, val_fraction=0.1, seed=3, skip="50%")
    seen = {e.prompt[0]["content"] for e in train + val}
    fresh = {p.prompt[0]["content"] for p in rest_train + rest_val}
    assert not seen & fresh and len(seen) + len(fresh) == len({e.prompt[0]["content"] for e in sft})
