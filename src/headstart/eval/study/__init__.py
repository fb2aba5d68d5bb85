"""Options of the head-start study and the demo (`config`); the commands themselves are
`headstart.commands.study` and `headstart.commands.demo`."""
