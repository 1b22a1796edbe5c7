# spfmanager: the CLI and the daemon in one image.
# Build: buildah bud --build-arg BASE_IMAGE=python:3.11-slim -t spfmanager .
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY spfmanager ./spfmanager
COPY providers ./providers
RUN pip install --no-cache-dir . && useradd --system --home /data spfmanager && mkdir -p /data \
    && chown spfmanager /data
USER spfmanager
WORKDIR /data
ENTRYPOINT ["spfmanager"]
CMD ["--help"]
