"""Training: the one Lightning `Trainer` builder (`trainer`), the one LightningModule base that
methods and fine-tuning subclass (`module`), schedules, optimizers, loaders, callbacks. The
`pretrain` command is `headstart.commands.pretrain`."""
