"""Every route of the application, from ``app.routes``, with its path parameters filled in.

Routers included with ``include_router`` are walked recursively and mounts are listed by their
prefix, so a route added anywhere later is found here (and must then pass the guard and
escaping tests) without this file changing. A path parameter this file has no value for makes
``fill`` fail loudly, so a new kind of page cannot slip past the tests unvisited.
"""
from __future__ import annotations

import re
from typing import Literal
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.routing import Mount

# Routes that answer without the token: health checks, the login itself, and static files.
OPEN = {("GET", "/api/health"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}
OPEN_PREFIXES = ("/static",)
PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-z]+)?}")


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str  # the template, e.g. /api/captures/{capture_id}
    html: bool  # a page (not part of the JSON API)

    @property
    def open(self) -> bool:
        return (self.method, self.path) in OPEN or self.path.startswith(OPEN_PREFIXES)

    @property
    def params(self) -> list[str]:
        return [m.group(1) for m in PARAM.finditer(self.path)]


def _walk(routes, prefix: str = ""):
    for route in routes:
        if type(route).__name__ == "_IncludedRouter":  # FastAPI >= 0.120 keeps included routers
            yield from _walk(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount):
            yield prefix + route.path, ["GET"], route
        elif hasattr(route, "methods"):
            yield prefix + route.path, sorted(route.methods or ["GET"]), route


def all_routes(app: FastAPI) -> list[RouteInfo]:
    out = []
    for path, methods, route in _walk(app.routes):
        for method in methods:
            if method == "HEAD":
                continue
            html = not path.startswith("/api/")
            out.append(RouteInfo(method, path, html))
    return sorted(set(out), key=lambda r: (r.path, r.method))


def fill(path: str, values: dict[str, str]) -> str:
    def sub(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise AssertionError(f"no test value for path parameter {name!r} of {path}: add one")
        return str(values[name])

    if path.startswith(OPEN_PREFIXES) and "{" not in path:
        return path + "/css/wirelens.css" if path == "/static" else path
    return PARAM.sub(sub, path)


def query_variants(app: FastAPI, path: str, method: str, text: str) -> list[dict[str, str]]:
    """Query strings worth visiting for one route: none, then each parameter in turn with each
    value of its ``Literal``, ``true`` for a flag, and ``text`` for a free string."""
    route = next((r for p, m, r in _walk(app.routes) if p == path and method in m), None)
    dependant = getattr(route, "dependant", None)
    variants: list[dict[str, str]] = [{}]
    for param in (dependant.query_params if dependant else []):
        annotation = param.field_info.annotation
        args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
        literals = [v for a in [annotation, *args] if getattr(a, "__origin__", None) is Literal
                    for v in a.__args__]
        if literals:
            variants += [{param.alias: str(v)} for v in literals]
        elif annotation is bool or bool in args:
            variants.append({param.alias: "true"})
        elif annotation is str or str in args:
            variants.append({param.alias: text})
    return variants
