"""Supplementary tree-sitter queries (data files), loaded with importlib.resources."""
