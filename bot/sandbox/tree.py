"""The candidate tree by value: a working copy's files (no ``.git``) with the candidate's
changes written over them, as one tar archive in memory. Pure apart from reading ``root``."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Mapping
from pathlib import Path

MAX_TREE_BYTES = 256 * 1024 * 1024


class TreeTooLarge(ValueError):
    """The tree is larger than the sandbox takes."""


def _info(name: str, size: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def pack(root: Path, changed: Mapping[str, str], *, limit: int = MAX_TREE_BYTES) -> bytes:
    """``root``'s regular files, directories and symlinks (as links, never followed), minus
    ``.git``, with ``changed`` (path -> text) written over them."""
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            here = Path(dirpath)
            rel_dir = here.relative_to(root)
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            for name in [*dirnames, *sorted(filenames)]:
                path = here / name
                rel = (rel_dir / name).as_posix()
                if rel in changed:
                    continue
                st = path.lstat()
                if path.is_symlink():
                    info = _info(rel, 0, 0o777)
                    info.type = tarfile.SYMTYPE
                    info.linkname = os.readlink(path)
                    archive.addfile(info)
                elif path.is_dir():
                    info = _info(rel, 0, 0o755)
                    info.type = tarfile.DIRTYPE
                    archive.addfile(info)
                elif path.is_file():
                    total += st.st_size
                    if total > limit:
                        raise TreeTooLarge(f"the tree is larger than {limit} bytes")
                    with path.open("rb") as handle:
                        archive.addfile(_info(rel, st.st_size, st.st_mode & 0o755), handle)
        for rel, text in sorted(changed.items()):
            data = text.encode("utf-8")
            total += len(data)
            if total > limit:
                raise TreeTooLarge(f"the tree is larger than {limit} bytes")
            archive.addfile(_info(rel, len(data), 0o644), io.BytesIO(data))
    return buffer.getvalue()
