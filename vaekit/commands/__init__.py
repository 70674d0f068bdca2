"""CLI subcommands: each module exports HELP, add_arguments(parser) and run(args)."""
