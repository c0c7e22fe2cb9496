"""Operator commands behind the CLI: doctor, connect, the settings reference, progress."""
