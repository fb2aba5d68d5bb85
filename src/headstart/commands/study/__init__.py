"""`headstart study`: does pretraining on your unlabeled data pay off, and with how many labels?

`runner` reads top to bottom (pretrain once, fine-tune the cells of the label ladder, answer,
report); `cells` plans and caches the fine-tuning runs; `frozen` scores the frozen features.
"""

from headstart.commands.study.runner import StudyResult, run
from headstart.config import api_function
from headstart.eval.study.config import StudyConfig

study = api_function(StudyConfig, run, "study",
                     "Pretrain once, fine-tune a ladder of label budgets from scratch and from the pretraining, "
                     "and report the head start; returns a StudyResult.")

__all__ = ["StudyResult", "run", "study"]
