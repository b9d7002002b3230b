"""The image's installation rebuilt outside Docker, for the namespace tests.

``image`` follows the Dockerfile step by step on this machine: the files its build stage copies
(and .dockerignore lets through) are built into a wheel with ``pip wheel``; the wheel goes into a
fresh environment whose interpreter is a real file, as /usr/local/bin/python3.11 is in the image;
that interpreter gets the file capability of the Dockerfile's ``setcap`` line; the programs run
as the image's user id, with Docker's default capability bounding set plus compose's ``cap_add``.
The environment holds the wheel's declared dependencies (its Requires-Dist, followed through
extras and markers) and nothing else, copied from the test environment instead of downloaded: an
import the package does not declare fails here as it would in the image.
"""
from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.netns.dockerfile import ROOT, build_context, compose_config, dockerfile_stages

# Docker's default capabilities (moby's oci/caps defaults), as setpriv names them.
DOCKER_DEFAULT_CAPS = ["chown", "dac_override", "fsetid", "fowner", "mknod", "net_raw", "setgid",
                       "setuid", "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill",
                       "audit_write"]


@dataclass
class Image:
    """The installed package, its capability-bearing interpreter, its user and its environment."""

    prefix: Path                 # the environment: bin/wirelens, bin/python3.11, ...
    site_packages: Path          # where the wheel went
    uid: int
    setcap: str                  # the capability expression of the Dockerfile's setcap line
    env: dict[str, str]          # the image's ENV plus compose's environment

    @property
    def python(self) -> Path:
        return self.prefix / "bin" / "python3"

    def as_user(self, argv: list[str], caps: list[str] | None = None) -> list[str]:
        """``argv`` run as the image's user with a container's bounding set (``caps``)."""
        caps = DOCKER_DEFAULT_CAPS if caps is None else caps
        bounding = ",".join(["-all", *(f"+{c}" for c in caps)])
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                f"--bounding-set={bounding}", "--", "env", "-i",
                *(f"{k}={v}" for k, v in self.env.items()), *argv]

    def data_dir(self, parent: Path) -> Path:
        """A fresh /data owned by the image's user."""
        path = Path(tempfile.mkdtemp(prefix="data-", dir=parent))
        path.chmod(0o755)
        os.chown(path, self.uid, self.uid)
        return path


def _run(argv: list[str], **kwargs) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def compose_caps(service: str = "wirelens") -> list[str]:
    added = compose_config("offline")["services"][service].get("cap_add", [])
    return DOCKER_DEFAULT_CAPS + [c.lower() for c in added]


def base_python(uid: int) -> str:
    """A Python of the tests' version whose standard library ``uid`` can read (the tests' own may
    live under a private home directory)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
                  f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]
    probe = "import sys, encodings; print(sys.base_prefix, sys.version_info[:2])"
    for candidate in dict.fromkeys(candidates):
        if not os.access(candidate, os.X_OK):
            continue
        as_root = subprocess.run([candidate, "-I", "-c", probe], capture_output=True, text=True, timeout=30)
        as_user = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                                  candidate, "-I", "-c", probe], capture_output=True, text=True, timeout=30)
        if as_root.returncode == 0 and as_user.stdout == as_root.stdout and version.replace(".", ", ") in as_root.stdout:
            return candidate
    pytest.fail(f"no Python {version} whose standard library user {uid} can read: {candidates}")


def wheel_requirements(wheel: Path) -> list[str]:
    """The Requires-Dist lines of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(name))
    return metadata.get_all("Requires-Dist") or []


def copy_dependencies(requirements: list[str], site_dir: Path) -> None:
    """Copy the installed distributions ``requirements`` need (recursively) into ``site_dir``."""
    from pip._vendor.packaging.requirements import Requirement  # pip is in every test environment

    wanted: dict[str, set[str]] = {}
    stack = [Requirement(r) for r in requirements]
    stack = [r for r in stack if r.marker is None or r.marker.evaluate({"extra": ""})]
    while stack:
        requirement = stack.pop()
        key = re.sub(r"[-_.]+", "-", requirement.name).lower()
        extras = set(requirement.extras)
        if key in wanted and extras <= wanted[key]:
            continue
        wanted[key] = wanted.get(key, set()) | extras
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{requirement.name} (a dependency of the wheel) is not installed here")
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in wanted[key] | {""}):
                stack.append(sub)
        for file in dist.files or []:
            source = Path(dist.locate_file(file)).resolve()
            if ".." in Path(file).parts or not source.is_file():
                continue  # console scripts and the like live outside site-packages
            target = site_dir / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


@pytest.fixture(scope="session")
def image() -> Image:
    if os.geteuid() != 0 or shutil.which("setpriv") is None or shutil.which("setcap") is None:
        pytest.fail("these tests need root, setpriv (util-linux) and setcap (libcap2-bin)")
    stages = dockerfile_stages()
    build, final = stages[0], stages[-1]
    run_text = " ".join(r.value for r in final.all("RUN"))
    setcap = re.search(r"setcap (\S+) ", run_text).group(1)
    uid = int(re.search(r"--uid (\d+)", run_text).group(1))
    env = {"PATH": "", "HOME": "/nonexistent"}
    for instruction in final.all("ENV"):
        env.update(dict(re.findall(r"(\w+)=(\S+)", instruction.value)))

    # Readable by the image's user: a private pytest temp dir is not.
    base = Path(tempfile.mkdtemp(prefix="wirelens-image-"))
    base.chmod(0o755)
    try:
        # The build stage: its COPY sources, as the build context has them, then `pip wheel`.
        context, src = set(build_context()), base / "src"
        for copy in build.all("COPY"):
            *sources, _ = copy.value.split()
            for source in sources:
                files = [f for f in context if f == source or f.startswith(source.rstrip("/") + "/")]
                assert files, f"COPY {source}: not in the build context"
                for f in files:
                    (src / f).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ROOT / f, src / f)
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps",
              "--wheel-dir", str(base / "wheels"), str(src)])
        wheel = next((base / "wheels").glob("wirelens-*.whl"))

        # The final stage: an interpreter that is a file of its own (setcap needs one) and that
        # the image's user can run, the wheel, its dependencies, the capability.
        prefix = base / "image"
        _run([base_python(uid), "-m", "venv", "--copies", "--without-pip", str(prefix)])
        real = prefix / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
        for alias in ("python", "python3"):
            (prefix / "bin" / alias).unlink()
            (prefix / "bin" / alias).symlink_to(real.name)  # as in the image: links to one file
        site_dir = Path(subprocess.check_output(
            [str(real), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
        _run([sys.executable, "-m", "pip", "--python", str(prefix / "bin" / "python"), "install",
              "--no-deps", "--no-index", str(wheel)])
        copy_dependencies(wheel_requirements(wheel), site_dir)
        _run(["setcap", setcap, str(real)])
        env["PATH"] = f"{prefix / 'bin'}:/usr/local/bin:/usr/bin:/bin"
        yield Image(prefix=prefix, site_packages=site_dir, uid=uid, setcap=setcap, env=env)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def workdir(image, tmp_path) -> Path:
    """A directory the image's user can reach, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="wirelens-run-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
