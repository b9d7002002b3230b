"""Reading the Dockerfile, .dockerignore and docker-compose.yml the way Docker reads them.

There is no Docker engine on the test machines, so the tests take the image apart instead: the
Dockerfile's instructions per stage (continuation lines joined, comments dropped, ``ARG``
defaults substituted into ``FROM``), the build context that .dockerignore leaves (Docker's
pattern rules: last match wins, ``!`` re-includes, a match on a folder covers its contents), and
the compose file as ``docker-compose config`` resolves it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"


@dataclass
class Instruction:
    keyword: str          # upper case: FROM, RUN, CMD, ...
    value: str            # the rest of the instruction, continuation lines joined
    line: int             # 1-based line where it starts

    def exec_form(self) -> list[str]:
        """The JSON array of a CMD/ENTRYPOINT/HEALTHCHECK CMD in exec form."""
        text = self.value
        if self.keyword == "HEALTHCHECK":
            text = re.sub(r"^(--\S+\s+)*", "", text)
            assert text.startswith("CMD "), f"line {self.line}: HEALTHCHECK without CMD"
            text = text[4:]
        form = json.loads(text)
        assert isinstance(form, list) and all(isinstance(a, str) for a in form), text
        return form

    def flags(self) -> dict[str, str]:
        """``--name=value`` options in front of the instruction (HEALTHCHECK, COPY, RUN)."""
        return dict(re.findall(r"--([\w-]+)=(\S+)", self.value.split(" CMD ", 1)[0]))


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages of a Dockerfile, in order; global ``ARG`` defaults are substituted in ``FROM``."""
    instructions: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not pending and not stripped):
            continue  # comments (parser directives included) and blank lines between instructions
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, value = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), " ".join(value.split()), start))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"

    args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = instruction.value.split()
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), ""), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=name))
        elif not stages:
            assert instruction.keyword == "ARG", f"line {instruction.line}: only ARG may precede FROM"
            key, _, default = instruction.value.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append(instruction)
    return stages


def dockerfile_stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


def _pattern_regex(pattern: str) -> re.Pattern:
    # Docker's matcher (moby/patternmatcher): Go's filepath.Match plus "**" for any depth.
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern]]:
    """(excludes, regex) per line of a .dockerignore, in order."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = os.path.normpath(line[1:] if include else line).lstrip("/")
        rules.append((not include, _pattern_regex(pattern)))
    return rules


def excluded(path: str, rules: list[tuple[bool, re.Pattern]]) -> bool:
    """Whether Docker leaves ``path`` (relative, with /) out of the build context."""
    parts = path.split("/")
    result = False
    for excludes, regex in rules:
        # A pattern matching a parent folder applies to everything inside it.
        if any(regex.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            result = excludes
    return result


def build_context(root: Path = ROOT) -> list[str]:
    """The files ``docker build`` sends from ``root`` (relative paths, sorted)."""
    rules = dockerignore_rules((root / ".dockerignore").read_text())
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames if d not in (".git", ".venv")]  # big, and excluded anyway
        for name in filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if not excluded(rel, rules):
                files.append(rel)
    return sorted(files)


def docker_compose() -> str:
    program = shutil.which("docker-compose")
    if program is None:
        pytest.fail("docker-compose is missing (apt-get install docker-compose; tests/run.sh installs it)")
    return program


def compose_run(*args: str) -> subprocess.CompletedProcess:
    """``docker-compose ARGS`` on the project's compose file, with no Docker engine reachable."""
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock")
    for name in ("WIRELENS_AUTH", "WIRELENS_TOKEN", "COMPOSE_PROFILES", "COMPOSE_FILE"):
        env.pop(name, None)  # the file's own defaults, not the caller's
    return subprocess.run([docker_compose(), "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE),
                           *args], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


@lru_cache(maxsize=None)
def compose_config(*profiles: str) -> dict:
    """The compose file as resolved by ``docker-compose config`` (validated against its schema)."""
    flags = [a for p in profiles for a in ("--profile", p)]
    done = compose_run(*flags, "config")
    assert done.returncode == 0, f"docker-compose config failed:\n{done.stderr}"
    return yaml.safe_load(done.stdout)  # callers only read it
