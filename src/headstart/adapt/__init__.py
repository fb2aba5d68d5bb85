"""Adaptation: a classification head on any backbone (`head`), the fine-tuning LightningModule
(`module`), the labeled data of a run (`data`), and the strategies that choose what trains
(`strategies`, one module each). The `finetune` / `evaluate` / `predict` commands that use them
are in `headstart.commands`."""
