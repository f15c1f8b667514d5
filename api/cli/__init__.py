"""The ``claims`` command line (entry point ``api.cli.main:main``); one module per group of subcommands."""
