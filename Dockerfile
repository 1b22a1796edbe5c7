# spfmanager: the re-flatten daemon (and every other command) in one image.
#
#   buildah bud --build-arg BASE_IMAGE=python:3.11-slim -t spfmanager .
#   docker build --build-arg BASE_IMAGE=python:3.11-slim -t spfmanager .
#
# The base stays a build argument so that a mirrored or pinned image can be used
# (BASE_IMAGE=registry.internal/python:3.11-slim@sha256:...). It must be Debian-based
# (useradd) with python3 >= 3.11; both stages use it so the virtualenv's interpreter exists
# at the same path in the final image.
#
# Run:  docker run -v $PWD/config:/config:ro -v spfmanager-data:/data -p 9108:9108 spfmanager
# Paths in /config/spfmanager.yaml are relative to /config (read-only): write the zone
# directory and a SQLite state store as absolute paths under /data. See docs/daemon.md.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY spfmanager ./spfmanager
COPY providers ./providers
# The postgres extra brings the PostgreSQL driver: several daemons share one state store.
RUN python3 -m venv /opt/spfmanager && /opt/spfmanager/bin/pip install ".[postgres]"

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="spfmanager" \
      org.opencontainers.image.description="SPF record manager and flattener: the re-flatten daemon" \
      org.opencontainers.image.licenses="MIT"
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/spfmanager/bin:$PATH
COPY --from=build /opt/spfmanager /opt/spfmanager
# A fixed numeric uid/gid: Kubernetes' runAsNonRoot can only verify a numeric USER, and
# volumes can be prepared for it (chown 10001) on the host.
RUN groupadd --system --gid 10001 spfmanager \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin spfmanager \
    && mkdir -p /config /data \
    && chown 10001:10001 /data
USER 10001:10001
# /config: spfmanager.yaml (read-only is fine). /data: zone files, a SQLite state store,
# anything the daemon writes; a new named volume takes the ownership of this directory.
VOLUME ["/config", "/data"]
WORKDIR /data
# Prometheus /metrics and /healthz (--metrics-address below).
EXPOSE 9108
# No curl in slim images: the stdlib. Any HTTP error, refused connection or timeout is an
# uncaught exception, exit 1, "unhealthy: <reason>" in `docker inspect`. No proxy: an
# HTTP_PROXY in the environment must not route a loopback check elsewhere.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/opt/spfmanager/bin/python", "-c", "import sys, urllib.request as u; sys.excepthook = lambda *e: print('unhealthy:', e[1]); u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:9108/healthz', timeout=4)"]
# SIGTERM (docker stop) lets the running apply finish, then the daemon exits 0; give it
# time: docker stop -t 60, stop_grace_period or terminationGracePeriodSeconds.
STOPSIGNAL SIGTERM
ENTRYPOINT ["spfmanager"]
CMD ["daemon", "-c", "/config/spfmanager.yaml", "--metrics-address", "0.0.0.0:9108", "--log-format", "json"]
