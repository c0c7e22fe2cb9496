"""Run a command on a candidate tree inside bubblewrap, or say why it cannot be.

The sandbox (every piece is on unless bubblewrap cannot do it, and then nothing runs):

- new user, PID, mount, IPC, UTS, network (and, where possible, cgroup) namespaces: no
  network at all, only its own processes in ``/proc``, its own hostname;
- as root, the worker first becomes an unprivileged user (``setpriv``, uid/gid 65534), so
  even an escape is not root and no file of the worker's user is readable; inside, the
  command runs as uid/gid 65534 with every capability dropped;
- a filesystem of its own: ``/usr`` (and the ``/bin``, ``/lib`` links) read-only, a short
  list of ``/etc`` files read-only (no ``/etc/shadow``, no credentials), ``/proc`` and a
  minimal ``/dev``, size-limited tmpfs for ``/tmp``, ``$HOME`` and ``/work``, the rest of the
  root read-only. The candidate tree arrives by value (a tar archive on stdin, extracted
  into ``/work``): the worker's cache, mirrors, other jobs, working copies and secrets are not
  mounted at all, and nothing the command writes comes back;
- ``--die-with-parent``, a new session, and when the command ends (or the wall-clock limit
  kills the group) the PID namespace goes and every process it left with it (``setsid`` and
  double-forked children included);
- limits (``prlimit``): processes, address space, CPU seconds, file size, no core dumps;
  disk through the tmpfs sizes;
- an empty environment but for PATH/HOME/LANG/CI/TMPDIR; output capped (the last
  ``output_bytes``) and redacted (:func:`bot.sanitize.redact_secrets`) before anyone sees it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SANDBOX_UID = 65534
_PATH = "/usr/local/bin:/usr/bin:/bin"
_ETC = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/mime.types",
    "/etc/ssl/certs",
    "/etc/ca-certificates",
)
_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_INNER = (
    "tar -x -f - -C /work --no-same-owner --no-same-permissions 2>/tmp/.tar-errors "
    '|| { echo "sandbox: the tree could not be unpacked:"; cat /tmp/.tar-errors; exit 125; }; '
    'cd /work && exec /bin/sh -c "$1" </dev/null'
)


EMPTY_TREE = bytes(10240)  # a tar archive with nothing in it


class Unavailable(RuntimeError):
    """This machine cannot isolate repository code; the message says why."""


@dataclass(frozen=True, slots=True)
class Limits:
    timeout_s: int = 600
    memory_mb: int = 2048  # address space per process
    file_mb: int = 512  # largest file
    disk_mb: int = 1024  # the /work tmpfs (the tree and what the tests write)
    tmp_mb: int = 256  # /tmp and $HOME, each
    processes: int = 256
    output_bytes: int = 64 * 1024


@dataclass(frozen=True, slots=True)
class Isolation:
    """What :func:`probe` found: the programs, and whether to drop root first."""

    bwrap: str
    prlimit: str
    setpriv: str | None  # set when the worker is root: become SANDBOX_UID before bwrap
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    returncode: int | None  # None: killed at the wall-clock limit
    output: str  # capped and redacted
    truncated: bool
    timed_out: bool


@dataclass(frozen=True, slots=True)
class Mounts:
    """Extra read-only binds (operator-provided toolchains): host path -> sandbox path."""

    read_only: Mapping[str, str] = field(default_factory=dict)


def _which(name: str) -> str | None:
    return shutil.which(name, path=_PATH)


def _system_args() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for path in _SYSTEM_LINKS:
        p = Path(path)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), path]
        elif p.is_dir():
            args += ["--ro-bind", path, path]
    for path in _ETC:
        args += ["--ro-bind-try", path, path]
    return args


def bwrap_argv(
    iso: Isolation, limits: Limits, command: str, mounts: Mounts | None = None
) -> list[str]:
    """The full command line (pure): limits, the drop of root, bubblewrap, the inner shell."""
    mb = 1024 * 1024
    argv = [
        iso.prlimit,
        f"--nproc={limits.processes}",
        f"--as={limits.memory_mb * mb}",
        f"--cpu={limits.timeout_s}",
        f"--fsize={limits.file_mb * mb}",
        "--core=0",
        "--",
    ]
    if iso.setpriv is not None:
        argv += [
            iso.setpriv,
            f"--reuid={SANDBOX_UID}",
            f"--regid={SANDBOX_UID}",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ]
    env = {
        "PATH": _PATH,
        "HOME": "/home/sandbox",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "CI": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    extra_path = [f"{inner}/bin" for inner in (mounts.read_only.values() if mounts else ())]
    if extra_path:
        env["PATH"] = ":".join([*extra_path, _PATH])
    argv += [
        iso.bwrap,
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--uid", str(SANDBOX_UID),
        "--gid", str(SANDBOX_UID),
        "--hostname", "sandbox",
        "--die-with-parent",
        "--new-session",
        "--cap-drop", "ALL",
        "--clearenv",
        *_system_args(),
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(limits.tmp_mb * mb), "--tmpfs", "/tmp",
        "--size", str(limits.tmp_mb * mb), "--tmpfs", "/home/sandbox",
        "--size", str(limits.disk_mb * mb), "--tmpfs", "/work",
    ]  # fmt: skip
    for host, inner in sorted((mounts.read_only if mounts else {}).items()):
        argv += ["--ro-bind", host, inner]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv += ["--remount-ro", "/", "--chdir", "/", "/bin/sh", "-c", _INNER, "sandbox", command]
    return argv


def probe() -> Isolation:
    """The isolation this machine gives, after trying it for real; raises Unavailable with
    the reason (a missing program, user namespaces refused...)."""
    bwrap, prlimit = _which("bwrap"), _which("prlimit")
    if bwrap is None:
        raise Unavailable(
            "bubblewrap (`bwrap`) is not installed (Debian: apt-get install bubblewrap)"
        )
    if prlimit is None:
        raise Unavailable("`prlimit` (util-linux) is not installed: no process limits")
    setpriv: str | None = None
    if os.geteuid() == 0:
        setpriv = _which("setpriv")
        if setpriv is None:
            raise Unavailable(
                "running as root and `setpriv` (util-linux) is missing: cannot drop root"
            )
    iso = Isolation(bwrap=bwrap, prlimit=prlimit, setpriv=setpriv)
    done = run(
        iso,
        Limits(timeout_s=30, disk_mb=8, tmp_mb=8),
        EMPTY_TREE,
        "id -u; cat /proc/1/cmdline >/dev/null; echo ok",
    )
    if done.returncode != 0 or not done.output.strip().endswith("ok"):
        raise Unavailable(
            "bubblewrap cannot create the namespaces here (user namespaces off, or a seccomp/"
            f"AppArmor profile refusing them): {done.output.strip()[-400:] or 'no output'}"
        )
    return iso


def run(
    iso: Isolation,
    limits: Limits,
    tree: bytes,
    command: str,
    *,
    mounts: Mounts | None = None,
    secrets: Sequence[str] = (),
) -> Outcome:
    """Run ``command`` (``sh -c``) on ``tree`` (a tar archive) in the sandbox."""
    from bot.sanitize import redact_secrets

    proc = subprocess.Popen(
        bwrap_argv(iso, limits, command, mounts),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={"PATH": _PATH, "LANG": "C.UTF-8"},
        cwd="/",
        start_new_session=True,
    )
    stdin, stdout = proc.stdin, proc.stdout
    if stdin is None or stdout is None:  # pragma: no cover - both are pipes
        raise Unavailable("the sandbox's pipes could not be opened")

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            stdin.write(tree)
        with contextlib.suppress(OSError):
            stdin.close()

    kept = bytearray()
    seen = 0

    def drain() -> None:
        nonlocal seen
        while chunk := os.read(stdout.fileno(), 65536):
            seen += len(chunk)
            kept.extend(chunk)
            if len(kept) > 2 * limits.output_bytes:
                del kept[: len(kept) - limits.output_bytes]

    threads = [
        threading.Thread(target=feed, daemon=True),
        threading.Thread(target=drain, daemon=True),
    ]
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        proc.wait(timeout=limits.timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_group(proc)
    proc.wait()
    for thread in threads:
        thread.join(timeout=10)
    tail = bytes(kept[-limits.output_bytes :])
    text = redact_secrets(tail.decode("utf-8", "replace"), extra=secrets)
    return Outcome(
        returncode=None if timed_out else proc.returncode,
        output=text,
        truncated=seen > len(tail),
        timed_out=timed_out,
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
