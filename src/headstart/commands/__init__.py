"""The commands: one module per command, on top of the library packages.

Each module resolves its config, opens the `Run`, calls the libraries and writes the results;
its `run(cfg)` is what the CLI calls, and its public function (`pretrain`, `finetune`, ...) is
the Python API (`headstart.pretrain(...)`). Commands call each other as functions (the study
calls `pretrain` and `finetune`); no library package imports this one.
"""
