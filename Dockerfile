# syntax=docker/dockerfile:1
#
# Colonnade in a container: one process serving on 0.0.0.0:8080, data in the /data volume, the
# configuration file mounted read-only at /etc/colonnade/colonnade.toml.
#
#   docker build -t colonnade .
#   docker build -t colonnade --build-arg EXTRA_PLUGINS="colonnade-solid-color ./examples/colonnade-greeter" .
#   docker build -t colonnade --build-arg EXTRAS=local-embeddings .   # rag's local embedding model (CPU torch)
#   docker run -p 8080:8080 -v colonnade-data:/data \
#              -v "$PWD/colonnade.toml:/etc/colonnade/colonnade.toml:ro" colonnade
#
# Every core key can also be set with COLONNADE_<SECTION>_<KEY> (docker run -e COLONNADE_SERVER_WORKERS=4).

ARG PYTHON_IMAGE=python:3.11-slim

# -- builder: a virtual environment with colonnade and any extra plugins, built from wheels ---------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/colonnade

WORKDIR /src
# The dependencies change less often than the code: build their wheels in a layer of their own.
COPY pyproject.toml ./
RUN /opt/colonnade/bin/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > requirements.txt \
    && /opt/colonnade/bin/pip wheel --wheel-dir /wheels -r requirements.txt

COPY README.md ./
COPY core ./core
COPY plugins ./plugins
COPY examples ./examples
RUN /opt/colonnade/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/colonnade/bin/pip install --no-index --find-links /wheels colonnade

# Optional extras of colonnade itself (local-embeddings: sentence-transformers on the CPU build of torch,
# taken from PyTorch's CPU index so that pip does not pull the multi-GB CUDA build).
ARG EXTRAS=""
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN if [ -n "$EXTRAS" ]; then /opt/colonnade/bin/pip install --extra-index-url "$TORCH_INDEX_URL" \
        --find-links /wheels "colonnade[$EXTRAS]"; fi

# Third-party plugins, as pip arguments: names from an index, or paths inside the build context.
ARG EXTRA_PLUGINS=""
RUN if [ -n "$EXTRA_PLUGINS" ]; then /opt/colonnade/bin/pip install --find-links /wheels $EXTRA_PLUGINS; fi

# Compile once here, as root, so the unprivileged user never needs to write next to the code.
RUN /opt/colonnade/bin/python -m compileall -q /opt/colonnade/lib

# -- runtime: the virtual environment alone, run by an unprivileged user -----------------------------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="colonnade" \
      org.opencontainers.image.description="An Open WebUI-compatible AI backend built as a plugin host"

ENV PATH=/opt/colonnade/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    COLONNADE_CONFIG=/etc/colonnade/colonnade.toml \
    COLONNADE_SERVER_DATA_DIR=/data \
    COLONNADE_SERVER_PORT=8080

RUN groupadd --system --gid 10001 colonnade \
    && useradd --system --uid 10001 --gid colonnade --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin colonnade \
    && mkdir -p /data /etc/colonnade \
    && chown colonnade:colonnade /data \
    && printf '%s\n' \
       '# Mount your configuration over this file (read-only), e.g.' \
       '#   -v $PWD/colonnade.toml:/etc/colonnade/colonnade.toml:ro' \
       '# Without one colonnade runs on its defaults: SQLite and the signing secret under /data.' \
       > /etc/colonnade/colonnade.toml

COPY --from=builder /opt/colonnade /opt/colonnade

USER colonnade
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# No curl in the slim image: the interpreter is there anyway. urlopen raises (exit 1) on anything but 2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('COLONNADE_SERVER_PORT', '8080') + '/health', timeout=4)" || exit 1

# colonnade is PID 1 and handles SIGTERM itself: in-flight requests get server.graceful_timeout
# seconds (5 by default, inside docker stop's 10) to finish.
STOPSIGNAL SIGTERM
CMD ["colonnade", "serve", "--host", "0.0.0.0"]
