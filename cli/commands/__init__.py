"""Subcommands of the footprints command line."""
