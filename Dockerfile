# One image for the Python services: api, worker, dashboard, flower (command picks the role).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY backend ./backend
COPY frontend ./frontend
COPY workers ./workers
COPY migrations ./migrations
# Editable, so that migrations/ (outside the packages) is found beside the code.
RUN pip install -e .

RUN useradd --create-home mlipm && mkdir -p /data/artifacts && chown mlipm /data/artifacts
USER mlipm
ENV MLIPM_ARTIFACT_DIR=/data/artifacts

CMD ["mlipm", "api"]
