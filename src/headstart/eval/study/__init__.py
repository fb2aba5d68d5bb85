"""The head-start study: does pretraining on your unlabeled data pay off, and with how many labels?"""

from __future__ import annotations

from headstart.config import api_function
from headstart.eval.study.config import DemoConfig, StudyConfig


def _study(cfg: StudyConfig):
    from headstart.eval.study.runner import run

    return run(cfg)


def _demo(cfg: DemoConfig):
    from headstart.eval.study.demo_plan import run

    return run(cfg)


study = api_function(StudyConfig, _study, "study",
                     "Pretrain once, fine-tune a ladder of label budgets from scratch and from the pretraining, "
                     "and report the head start; returns a StudyResult.")
demo = api_function(DemoConfig, _demo, "demo", "The study on Fashion-MNIST, sized for a laptop CPU.")
