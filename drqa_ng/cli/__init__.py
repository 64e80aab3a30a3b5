"""Command-line interface: ``drqa-ng SUBCOMMAND``; one module per group of subcommands."""
