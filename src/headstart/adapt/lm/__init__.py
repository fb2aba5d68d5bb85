"""Configs of the language-model commands (`align`, `generate`); the modules that train and score causal
LMs sit beside them in `adapt/` (`causal_lm`, `instruct_module`, `instruct_infer`, `preference`)."""
