"""DPO / IPO: the loss against its formula by hand, and against TRL's `DPOTrainer` on the same batch."""

from __future__ import annotations

import math

import pytest
import torch

from headstart.adapt.preference import preference_loss, sequence_logps
from headstart.data.text.instruct import IGNORE


def test_sequence_logps__sums_only_the_labelled_next_tokens():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    labels = torch.tensor([[IGNORE, IGNORE, 3, 4, IGNORE], [IGNORE, 1, 2, 6, 0]])
    logps, count = sequence_logps(logits, labels)
    lp = logits.log_softmax(-1)
    assert torch.allclose(logps[0], lp[0, 1, 3] + lp[0, 2, 4])
    assert torch.allclose(logps[1], lp[1, 0, 1] + lp[1, 1, 2] + lp[1, 2, 6] + lp[1, 3, 0])
    assert count.tolist() == [2, 4]


def test_preference_loss__dpo_and_ipo_by_hand():
    pc, pr, rc, rr = (torch.tensor([v]) for v in (-3.0, -5.0, -4.0, -4.5))
    loss, stats = preference_loss(pc, pr, rc, rr, beta=0.5)
    h = (-3.0 + 4.0) - (-5.0 + 4.5)  # 1.5
    assert loss.item() == pytest.approx(-math.log(1 / (1 + math.exp(-0.5 * h))), rel=1e-6)
    assert stats["margin"].item() == pytest.approx(0.5 * h) and stats["accuracy"].item() == 1.0
    loss, _ = preference_loss(pc, pr, rc, rr, beta=0.5, method="ipo", chosen_tokens=torch.tensor([2]),
                              rejected_tokens=torch.tensor([4]))
    assert loss.item() == pytest.approx(((1.0 / 2 - (-0.5) / 4) - 1 / (2 * 0.5)) ** 2, rel=1e-6)


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo", "sigmoid+sft"])
def test_preference_loss__agrees_with_trl_dpo_trainer(tmp_path, loss_type):
    """TRL's own trainer builds the batch (its tokenization, its [chosen; rejected] layout) and its loss;
    ours is computed from the same models' logits on that batch."""
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import DPOConfig, DPOTrainer

    from headstart.data.text.instruct import with_chat_template
    from headstart.data.text.tokenizer import train_tokenizer

    tok = with_chat_template(train_tokenizer(["which topic is this text about law food art"] * 20, vocab_size=300,
                                             style="gpt"))
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=64, pad_token_id=tok.pad_token_id,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    policy, ref = LlamaForCausalLM(config), LlamaForCausalLM(config)
    rows = [{"prompt": [{"role": "user", "content": q}], "chosen": [{"role": "assistant", "content": c}],
             "rejected": [{"role": "assistant", "content": r}]}
            for q, c, r in [("which topic", "law", "food art"), ("this text about", "art", "law law"),
                            ("topic law food", "food", "which")]]
    sft_weight = 0.7 if loss_type.endswith("+sft") else 0.0  # RPO: TRL's loss list [sigmoid, sft] with weights
    types = loss_type.split("+")
    args = DPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=3, beta=0.2, loss_type=types,
                     loss_weights=[1.0, sft_weight] if sft_weight else None, report_to=[], use_cpu=True, max_steps=1)
    trainer = DPOTrainer(model=policy, ref_model=ref, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tok)
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        trl_loss = trainer.compute_loss(policy, batch).item()
        labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, IGNORE)
        logps = {}
        for name, model in (("policy", policy), ("ref", ref)):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            logps[name] = sequence_logps(logits, labels)
    (pc, pr), (rc, rr) = logps["policy"][0].chunk(2), logps["ref"][0].chunk(2)
    nc, nr = logps["policy"][1].chunk(2)
    ours, _ = preference_loss(pc, pr, rc, rr, beta=0.2, method="ipo" if loss_type == "ipo" else "dpo",
                              chosen_tokens=nc, rejected_tokens=nr, sft_weight=sft_weight)
    assert batch["input_ids"].shape[0] == 6
    assert ours.item() == pytest.approx(trl_loss, rel=1e-5, abs=1e-6)
    assert not torch.allclose(pc - rc, pr - rr)  # two different models: a loss away from its value at h = 0
