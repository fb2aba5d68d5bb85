"""Text backbones: built-in bert-mini / gpt-mini and local hf: folders, on real fortunes batches."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from transformers import AutoModel, BertForMaskedLM, LlamaForCausalLM

from headstart.data.text.fortunes import open_fortunes
from headstart.data.text.textset import tokenize_corpus
from headstart.data.text.tokenizer import train_tokenizer
from headstart.errors import HeadstartError
from headstart.models.factory import create_backbone, list_models
from headstart.models.family import check_model_name
from headstart.models.text import (
    TEXT_NETS,
    TextBackbone,
    create_text_backbone,
    default_ids,
    ids_of,
    mini_config,
)

STYLE = {"bert-mini": "bert", "gpt-mini": "gpt"}


@pytest.fixture(scope="module")
def topic():
    return open_fortunes("fortunes-topic", split="test")


@pytest.fixture(scope="module")
def tokenizers(topic):
    return {style: train_tokenizer(topic.texts, vocab_size=1000, style=style) for style in ("bert", "gpt")}


@pytest.fixture(scope="module")
def batches(topic, tokenizers, tmp_path_factory):
    cache = tmp_path_factory.mktemp("tok")
    return {style: tokenize_corpus(topic, tokenizer=tok, max_length=48, cache_dir=cache)
            for style, tok in tokenizers.items()}


@pytest.mark.parametrize("net", sorted(TEXT_NETS))
def test_text_backbone__pooled_embedding_ignores_padding(net, tokenizers, batches):
    torch.manual_seed(0)
    backbone = create_text_backbone(f"headstart/{net}", tokenizer=tokenizers[STYLE[net]]).eval()
    data = batches[STYLE[net]]
    ids, _ = data.__getitems__(range(8))  # (8, T): real fortunes of different lengths, padded
    with torch.no_grad():
        feats = backbone(ids)
        alone = torch.cat([backbone(data[i][0][None]) for i in range(8)])  # each without padding
    assert (ids == data.pad_id).any() and feats.shape == (8, 256) and torch.isfinite(feats).all()
    assert torch.allclose(feats, alone, atol=1e-5)
    assert backbone.forward_features(ids).shape == (*ids.shape, 256)
    assert backbone.kind == ("encoder" if net == "bert-mini" else "decoder")


@pytest.mark.parametrize("net", sorted(TEXT_NETS))
def test_text_backbone__size_groups_and_gradients(net, tokenizers, batches):
    backbone = create_text_backbone(f"headstart/{net}", tokenizer=tokenizers[STYLE[net]])
    params = list(backbone.module.parameters())
    assert 4.5e6 < sum(p.numel() for p in params) + 7192 * 256 < 6e6  # ~5.4M with an 8192-token vocabulary
    groups = backbone.layer_groups()
    assert len(groups) == 5 and sum(len(g) for g in groups) == len(params)  # embeddings + 4 blocks
    assert backbone.module.get_input_embeddings().weight is groups[0][0]
    backbone(batches[STYLE[net]].__getitems__(range(4))[0]).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in params)  # none unused (DDP)


def test_default_ids__match_what_train_tokenizer_gives(tokenizers):
    for style, tok in tokenizers.items():
        assert ids_of(tok) == default_ids(style, vocab_size=len(tok))
    backbone = create_text_backbone("headstart/bert-mini")
    assert backbone.meta.extra["vocab_size"] == 8192 and backbone.pad_id == 2


@pytest.mark.parametrize(("net", "head"), [("bert-mini", BertForMaskedLM), ("gpt-mini", LlamaForCausalLM)])
def test_hf_folder__a_local_checkpoint_loads_with_its_weights(net, head, tokenizers, batches, tmp_path):
    torch.manual_seed(0)
    model = head(mini_config(net, ids_of(tokenizers[STYLE[net]])))
    model.save_pretrained(tmp_path / net)
    backbone = create_text_backbone(f"hf:{tmp_path / net}").eval()
    base = AutoModel.from_pretrained(tmp_path / net, local_files_only=True).eval()
    assert backbone.meta.family == "hf" and backbone.kind == ("encoder" if net == "bert-mini" else "decoder")
    assert torch.equal(backbone.module.get_input_embeddings().weight, model.get_input_embeddings().weight)
    ids, _ = batches[STYLE[net]].__getitems__(range(4))
    with torch.no_grad():
        ours = backbone.forward_features(ids)
        theirs = base(input_ids=ids, attention_mask=(ids != backbone.pad_id).long()).last_hidden_state
    assert torch.allclose(ours, theirs)


def test_hf_folder__a_hub_name_is_refused_without_a_download(tmp_path):
    with pytest.raises(HeadstartError, match=r"^no Hugging Face model folder at bert-base-uncased .*never"):
        create_text_backbone("hf:bert-base-uncased")
    with pytest.raises(HeadstartError, match="unknown text model 'headstart/bert-maxi'"):
        create_text_backbone("headstart/bert-maxi")


def test_check_model_name__text_names_are_checked_without_torch(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    code = ("import sys; from headstart.models.family import check_model_name; "
            f"check_model_name('headstart/gpt-mini'); check_model_name('hf:{tmp_path}'); "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    with pytest.raises(HeadstartError, match=r"^no Hugging Face model folder at .*nope \(no config.json\)"):
        check_model_name(f"hf:{tmp_path / 'nope'}")


def test_create_backbone__text_nets_through_the_registry():
    backbone = create_backbone("headstart/gpt-mini")
    assert isinstance(backbone, TextBackbone) and backbone.kind == "decoder" and backbone.feature_dim == 256
    assert {"bert-mini", "gpt-mini"} <= set(list_models(family="headstart"))
