"""Network namespaces for the tests: the docker-compose setup rebuilt with ``ip netns``.

Docker's ``network_mode: "service:rest-server"`` puts two containers in one network namespace; a
namespace made with ``ip netns add`` and joined with ``ip netns exec`` is the same kernel object. A
veth pair links it to the root namespace, the way Docker's bridge links a container to the host:
a request from the root namespace to the namespace's address arrives on the namespace's side of
the pair (the container's ``eth0``), where a capture inside the namespace sees it.

Needs root and iproute2; a missing one fails the test (the CI runs as root with iproute2).
Everything made here is removed in ``finally`` blocks, processes first (by their own pid).
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]


def require_root_and_ip() -> str:
    """The ``ip`` program; fails the test (never skips) when namespaces cannot be made."""
    ip = shutil.which("ip")
    if ip is None:
        pytest.fail("iproute2's `ip` is missing (apt-get install iproute2; tests/run.sh installs it)")
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (run the tests as root, as the CI does)")
    return ip


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


@dataclass
class Namespace:
    """One network namespace joined to the root namespace by a veth pair.

    ``inner`` is the namespace's end of the pair (named ``eth0``, as in a container) with address
    ``address``; ``outer`` stays in the root namespace with ``peer_address``.
    """

    name: str
    inner: str
    outer: str
    address: str
    peer_address: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def exec(self, *argv: str, env: dict | None = None, log: Path | None = None,
             cwd: Path | None = None) -> subprocess.Popen:
        """Start ``argv`` inside the namespace (``ip netns exec`` execs it: the pid is its own)."""
        out = open(log, "wb") if log else subprocess.DEVNULL
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, *argv], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd or ROOT)
        if log:
            out.close()  # the child holds its own descriptor
        self.processes.append(proc)
        return proc

    def run(self, *argv: str, timeout: float = 30, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` inside the namespace to completion."""
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=ROOT)

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        """Send ``sig`` (SIGTERM, as ``docker stop`` does) and wait; SIGKILL if it lingers."""
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
                return None
        return proc.returncode


@contextmanager
def namespace(tag: str = "wl") -> Iterator[Namespace]:
    """A fresh namespace with ``lo`` up and a veth pair on a random /30 of 10.213.0.0/16, whose
    inner end is ``eth0``.

    The addresses exist only on this machine, inside the namespace this test made.
    """
    require_root_and_ip()
    suffix = secrets.token_hex(3)
    third, fourth = secrets.randbelow(256), secrets.randbelow(64) * 4
    ns = Namespace(name=f"{tag}-{suffix}", inner=f"{tag}i{suffix}", outer=f"{tag}o{suffix}",
                   address=f"10.213.{third}.{fourth + 2}", peer_address=f"10.213.{third}.{fourth + 1}")
    try:
        _run("ip", "netns", "add", ns.name)
        _run("ip", "link", "add", ns.outer, "type", "veth", "peer", "name", ns.inner)
        _run("ip", "link", "set", ns.inner, "netns", ns.name)
        # Inside, the pair's end is called eth0, as in a container (names are per namespace).
        _run("ip", "netns", "exec", ns.name, "ip", "link", "set", ns.inner, "name", "eth0")
        ns.inner = "eth0"
        _run("ip", "addr", "add", f"{ns.peer_address}/30", "dev", ns.outer)
        _run("ip", "link", "set", ns.outer, "up")
        _run("ip", "netns", "exec", ns.name, "ip", "addr", "add", f"{ns.address}/30", "dev", ns.inner)
        _run("ip", "netns", "exec", ns.name, "ip", "link", "set", ns.inner, "up")
        _run("ip", "netns", "exec", ns.name, "ip", "link", "set", "lo", "up")
        yield ns
    finally:
        try:
            for proc in ns.processes:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
        finally:
            # Deleting the namespace destroys its end of the pair, and with it the outer end; the
            # explicit delete covers a failure before the inner end was moved.
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, timeout=30)
            subprocess.run(["ip", "link", "del", ns.outer], capture_output=True, timeout=30)


def wait_http(url: str, proc: subprocess.Popen, log: Path | None = None, timeout: float = 30,
              headers: dict | None = None) -> bytes:
    """Poll ``url`` until it answers 200; fail with the process's output if it died or hung."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return response.read()
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    output = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    pytest.fail(f"{url} did not answer (exit {proc.poll()}, last error {last!r}):\n{output}")


def venv_program(name: str) -> str:
    """A console script of the Python running the tests (``wirelens``), by its full path."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{path} is missing: install the package (pip install -e '.[test]')")
    return str(path)
