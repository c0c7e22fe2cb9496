"""Prompt texts, kept as data files and read with ``importlib.resources``."""
