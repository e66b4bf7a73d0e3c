# One image per worker environment; the command picks the role (api, worker, dashboard, flower).
#   base: web tier and classical baselines (no torch)
#   mlip: + torch (CPU) and the packaged MLIPs (CHGNet, SevenNet, DIEP, ANI-1x)
#   mace: + torch and mace-torch, whose e3nn pin conflicts with sevenn: its own environment
#   orb:  + torch, orb-models and mattersim (--no-deps): conflicts with mlip, its own environment
FROM python:3.11-slim AS base

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY frontend ./frontend
COPY workers ./workers
COPY shared_kernel ./shared_kernel
COPY migrations ./migrations
# Editable, so that migrations/ (outside the packages) is found beside the code.
RUN pip install -e .
RUN useradd --create-home mlipm && mkdir -p /data/artifacts && chown mlipm /data/artifacts
ENV MLIPM_ARTIFACT_DIR=/data/artifacts
USER mlipm
CMD ["mlipm", "api"]

FROM base AS mlip
USER root
# torch first, from the CPU index, so that nothing pulls a CUDA build
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install -e '.[mlip]'
USER mlipm

FROM base AS mace
USER root
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install 'mace-torch>=0.3.16'
USER mlipm

# ORB and MatterSim: orb-models downgrades rich/filelock/huggingface_hub, and mattersim
# requires torchvision/torchaudio, so both live here (Makefile target install-orb does the
# same): mattersim with --no-deps plus what its inference path imports.
FROM base AS orb
USER root
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install --no-deps mattersim==1.2.3 \
    && pip install torch==2.13.0 orb-models==0.5.5 e3nn==0.6.0 torch-geometric==2.8.1 \
        torch-ema==0.3 torch-runstats==0.2.0 torchmetrics==1.9.0 deprecated loguru
USER mlipm
