# syntax=docker/dockerfile:1
# The gateway: `gateway serve` as a non-root user, dependencies from the hash-checked lock file.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
COPY requirements.lock /tmp/requirements.lock
RUN /venv/bin/pip install --require-hashes -r /tmp/requirements.lock

FROM ${PYTHON_IMAGE}
ENV PATH=/venv/bin:$PATH PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    GATEWAY_DATA_DIR=/tmp/gateway
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin gateway
COPY --from=build /venv /venv
WORKDIR /app
COPY --chown=root:root gateway ./gateway
COPY --chown=root:root migrations ./migrations
COPY --chown=root:root alembic.ini pyproject.toml ./
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["python", "-m", "gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
