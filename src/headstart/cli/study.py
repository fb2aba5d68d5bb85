from headstart.cli._build import Command
from headstart.study.config import StudyConfig

COMMAND = Command("study", StudyConfig, "headstart.study:_study",
                  "Measure the head start: pretrain, fine-tune a ladder of label budgets, report.")
