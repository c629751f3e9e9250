# syntax=docker/dockerfile:1
# The gateway: `gateway serve` as a non-root user, dependencies from the hash-checked lock file.
#
# The default target is the production image. It carries the gateway/ package and not the Contio
# sandbox (gateway_sandbox/, a development tool): there `gateway sandbox` and `gateway dev` say that
# they are development commands. The `sandbox` target adds the emulator, for the local stack
# (deploy/compose.local.yaml) only.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
COPY requirements.lock /tmp/requirements.lock
RUN /venv/bin/pip install --require-hashes -r /tmp/requirements.lock
# The `gateway` command, as the project's console script would be; the code itself runs from /app.
RUN printf '#!/venv/bin/python\nimport sys\n\nfrom gateway.cli import main\n\nsys.exit(main())\n' \
      > /venv/bin/gateway \
 && chmod 0755 /venv/bin/gateway

FROM ${PYTHON_IMAGE} AS production
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
ENTRYPOINT ["gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

# The production image plus the Contio sandbox: `docker build --target sandbox`.
FROM production AS sandbox
COPY --chown=root:root gateway_sandbox ./gateway_sandbox
EXPOSE 8001
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8001/oauth2/health', timeout=2).status != 200)"]
CMD ["sandbox", "--host", "0.0.0.0", "--port", "8001"]

# The last stage is what a plain `docker build` makes: the production image, without the sandbox.
FROM production
