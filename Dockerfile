# One image for every Tiro process: Prefect server and worker, the mock server and the Karez roles.
#   docker build -t tiro .
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TIRO_PROJECT_DIR=/app \
    PREFECT_HOME=/var/lib/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY tiro_models ./tiro_models
COPY karez ./karez
COPY tiro ./tiro
COPY tasks ./tasks
COPY flows ./flows
COPY deployments ./deployments
COPY scenarios ./scenarios
# Editable, so that the flows' entrypoints and the example scenarios stay where prefect.yaml expects them.
RUN pip install -e . \
    && useradd --create-home --uid 1000 tiro \
    && mkdir -p /var/lib/prefect /var/lib/tiro \
    && chown -R tiro /var/lib/prefect /var/lib/tiro /app/scenarios

USER tiro
EXPOSE 4200 8000
CMD ["tiro", "--help"]
