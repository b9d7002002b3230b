"""The image's command and health checks, run as the image runs them, in a network namespace.

Each test gives a namespace to what is one container (or two sharing a namespace) in
docker-compose.yml and runs the command written there, word for word, as the image's user with
the interpreter's file capability; only ``/data`` is replaced by a fresh directory. The page is
reached from the root namespace through the veth pair, as the published port reaches a container.
"""
from __future__ import annotations

import json
import signal
import subprocess
import urllib.request

from tests.netns.conftest import DOCKER_DEFAULT_CAPS, compose_caps
from tests.netns.dockerfile import ROOT, compose_config, dockerfile_stages
from tests.netns.namespaces import namespace, wait_http

CAP_NET_RAW = 13
STOPPED = (0, -signal.SIGTERM)  # what a clean stop on SIGTERM may report (None: it was killed)


def swap_data(argv: list[str], data) -> list[str]:
    return [str(data) if a == "/data" else a for a in argv]


def service_env(image, service: str) -> dict[str, str]:
    env = dict(image.env)
    env.update({k: str(v) for k, v in (compose_config("offline")["services"][service].get("environment") or {}).items()})
    return env


def proc_status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def health(image, ns, test: list[str], env: dict, caps: list[str]) -> subprocess.CompletedProcess:
    """Run a compose or Dockerfile health check inside the namespace, as the image's user."""
    kind, *argv = test
    if kind == "CMD-SHELL":
        argv = ["/bin/sh", "-c", argv[0]]
    saved, image.env = image.env, env
    try:
        return ns.run(*image.as_user(argv, caps), timeout=30)
    finally:
        image.env = saved


def test_image_command_serves_the_page_as_its_user_and_is_healthy(image, workdir):
    final = dockerfile_stages()[-1]
    cmd = final.last("CMD").exec_form()
    compose = compose_config()["services"]["wirelens"]
    assert compose["command"] == cmd
    caps = compose_caps("wirelens")
    env = service_env(image, "wirelens")
    data = image.data_dir(workdir)
    with namespace("wli") as ns:
        saved, image.env = image.env, env
        try:
            proc = ns.exec(*image.as_user(swap_data(cmd, data), caps), log=workdir / "server.log", cwd=data)
        finally:
            image.env = saved
        base = f"http://{ns.address}:8000"
        body = wait_http(f"{base}/api/health", proc, workdir / "server.log")
        assert json.loads(body)["status"] == "ok"

        # It runs as the image's user, and that user holds CAP_NET_RAW through the file capability.
        status = proc_status(proc.pid)
        assert status["Uid"].split()[0] == str(image.uid)
        assert int(status["CapEff"], 16) >> CAP_NET_RAW & 1

        # The page and its static files come from the installed wheel (WORKDIR is /data).
        with urllib.request.urlopen(f"{base}/", timeout=10) as r:
            assert r.status == 200 and "Wirelens" in r.read().decode()
        with urllib.request.urlopen(f"{base}/static/css/wirelens.css", timeout=10) as r:
            assert r.status == 200 and len(r.read()) > 100

        # The image's HEALTHCHECK and compose's, run in the container's place.
        for test in (["CMD", *final.last("HEALTHCHECK").exec_form()], compose["healthcheck"]["test"]):
            done = health(image, ns, test, env, caps)
            assert done.returncode == 0, done.stderr

        # The library keeps its files in /data, owned by the image's user.
        assert any(p.stat().st_uid == image.uid for p in data.iterdir())

        # `docker stop` sends SIGTERM: the server shuts down within Docker's 10 s grace period
        # (uvicorn re-raises the signal once it has shut down, so the status may say SIGTERM).
        assert ns.stop(proc, timeout=10) in STOPPED, (workdir / "server.log").read_text()
        done = health(image, ns, compose["healthcheck"]["test"], env, caps)
        assert done.returncode != 0  # and the health check notices


def test_offline_profile_in_one_namespace(image, workdir):
    services = compose_config("offline")["services"]
    ping, wirelens = services["ping-offline"], services["wirelens-offline"]
    data = image.data_dir(workdir)
    with namespace("wlo") as ns:
        saved = image.env
        try:
            image.env = service_env(image, "ping-offline")
            server = ns.exec(*image.as_user(ping["command"], compose_caps("ping-offline")),
                             log=workdir / "ping.log", cwd=data)
            image.env = service_env(image, "wirelens-offline")
            viewer = ns.exec(*image.as_user(swap_data(wirelens["command"], data), compose_caps("wirelens-offline")),
                             log=workdir / "server.log", cwd=data)
        finally:
            image.env = saved
        assert wait_http(f"http://{ns.address}:8080/ping", server, workdir / "ping.log") == b"pong"
        wait_http(f"http://{ns.address}:8000/api/health", viewer, workdir / "server.log")
        for name in ("ping-offline", "wirelens-offline"):
            done = health(image, ns, services[name]["healthcheck"]["test"], service_env(image, name),
                          compose_caps(name))
            assert done.returncode == 0, f"{name}: {done.stderr}"
        # The REST server's own check (wget or curl) passes against the demo server too.
        done = health(image, ns, services["rest-server"]["healthcheck"]["test"], image.env, DOCKER_DEFAULT_CAPS)
        assert done.returncode == 0, done.stderr
        assert ns.stop(server) in STOPPED and ns.stop(viewer) in STOPPED


def test_the_installed_package_holds_every_module_template_and_static_file(image):
    installed = image.site_packages / "app"
    for source in ROOT.joinpath("app").rglob("*.py"):
        rel = source.relative_to(ROOT)
        assert (image.site_packages / rel).is_file(), f"{rel} is not in the wheel (pyproject.toml packages)"
    for folder in ("templates", "static"):
        for source in ROOT.joinpath(folder).rglob("*"):
            rel = source.relative_to(ROOT / folder)
            if source.is_file() and "__pycache__" not in rel.parts and rel.parts[0] != "docs":
                assert (installed / folder / rel).is_file(), f"{folder}/{rel} is not in the wheel"


def test_the_interpreter_starts_with_dockers_default_capabilities(image):
    # `docker run` without cap_add: Docker's default set has NET_RAW, so the image still starts...
    done = subprocess.run(image.as_user([str(image.python), "-c", "print('up')"]),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == "up", done.stderr
    # ...which it would not with a capability the bounding set lacks: the kernel refuses to run a
    # program whose file capabilities it cannot grant. That is why the image sets NET_RAW only.
    without_raw = [c for c in DOCKER_DEFAULT_CAPS if c != "net_raw"]
    done = subprocess.run(image.as_user([str(image.python), "-c", "print('up')"], without_raw),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "Operation not permitted" in done.stderr
