"""Run the test forge in its own process: ``python -m tests.testforge [--port N]``.

Prints one JSON line ``{"url": ...}`` when ready; stops when stdin closes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tests.testforge.server import TestForge


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.testforge")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--corpora", type=Path, default=None)
    args = parser.parse_args()
    with TestForge(corpora=args.corpora, host=args.host, port=args.port) as forge:
        sys.stdout.write(json.dumps({"url": forge.url}) + "\n")
        sys.stdout.flush()
        sys.stdin.read()


if __name__ == "__main__":
    main()
