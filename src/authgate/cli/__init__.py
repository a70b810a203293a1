"""The command line: thin and lazy, one module per command group."""
