from headstart.cli._build import Command
from headstart.eval.study.config import DemoConfig

COMMAND = Command("demo", DemoConfig, "headstart.commands.demo:run",
                  "The head-start study on Fashion-MNIST, sized to finish in about 15 minutes on 2 CPU cores.")
