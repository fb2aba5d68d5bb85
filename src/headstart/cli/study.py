from headstart.cli._build import Command
from headstart.eval.study.config import StudyConfig

COMMAND = Command("study", StudyConfig, "headstart.commands.study:run",
                  "Measure the head start: pretrain, fine-tune a ladder of label budgets, report.")
