# syntax=docker/dockerfile:1
# Wirelens in a container: the web UI on port 8000, captures and the library in the /data volume.
#   docker build -t wirelens .
#   docker run --rm -p 127.0.0.1:8000:8000 -e WIRELENS_TOKEN=... -v wirelens-data:/data wirelens
# docker-compose.yml runs it next to the REST server it watches (see the README).

# Debian 12 under Python 3.11 slim: the package names below are bookworm's (trixie renamed
# libpcap0.8 to libpcap0.8t64).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the checkout and every dependency as wheels -------------------------------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# Only what the package is made of (pyproject.toml names README.md as its long description).
COPY pyproject.toml README.md ./
COPY app ./app
COPY templates ./templates
COPY static ./static
# numpy, uvloop, httptools and the rest come as prebuilt manylinux wheels: no compiler needed.
RUN pip wheel --wheel-dir /wheels .

# ---- final: the installed package, libpcap, a non-root user allowed to capture --------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="Wirelens" \
      org.opencontainers.image.description="A packet viewer in the browser: captures, display filters, flows and ladders."

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    WIRELENS_DATA_DIR=/data

# libpcap0.8: Scapy compiles capture filters such as `tcp port 8080` with it.
# libcap2-bin is needed only for setcap and leaves in the same layer: the file capability stays
# on the interpreter. cap_net_raw alone is enough to open packet sockets; cap_net_admin is not
# set because a file capability the container's bounding set lacks makes the kernel refuse to
# start the program at all (EPERM on exec), and NET_ADMIN is not in Docker's default set.
# hadolint ignore=DL3008
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends libpcap0.8 libcap2-bin; \
    pip install --no-index --find-links=/wheels /wheels/wirelens-*.whl; \
    setcap cap_net_raw+ep "$(readlink -f /usr/local/bin/python3)"; \
    getcap "$(readlink -f /usr/local/bin/python3)"; \
    apt-get purge -y --auto-remove libcap2-bin; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 wirelens; \
    useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin wirelens; \
    mkdir -p /data; \
    chown wirelens:wirelens /data

# Declared after the chown: a new named volume starts with this directory's owner.
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8000

# /api/health with the standard library (no curl in the image). It sends the access token when
# one is set, so it keeps working when the server requires it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import json, os, urllib.request as u; t = os.environ.get('WIRELENS_TOKEN'); r = u.Request('http://127.0.0.1:8000/api/health', headers={'Authorization': 'Bearer ' + t} if t else {}); assert json.load(u.urlopen(r, timeout=4))['status'] == 'ok'"]

# 0.0.0.0 so the published port reaches it; binding beyond 127.0.0.1 requires the access token
# (WIRELENS_TOKEN) unless WIRELENS_AUTH=off turns that off for local use.
CMD ["wirelens", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
