from headstart.cli._build import Command
from headstart.eval.study.config import DemoConfig

COMMAND = Command("demo", DemoConfig, "headstart.commands.demo:run",
                  "The head-start study on Fashion-MNIST, sized from a timing of this machine to finish in about "
                  "--minutes (13 by default) on 2 CPU cores; --text: the text study.")
