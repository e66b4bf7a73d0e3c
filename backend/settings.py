"""One typed settings object for every process (API, workers, dashboard, CLI)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read from the environment (and ``.env``); names are case-insensitive."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = Field("dev", validation_alias="MLIPM_ENV")
    database_url: str = Field(
        "postgresql+psycopg://postgres@127.0.0.1:5432/mlipm",
        description="SQLAlchemy URL of the platform's Postgres database.",
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Celery broker.")
    artifact_dir: Path = Field(
        Path(".mlipm/artifacts"),
        validation_alias="MLIPM_ARTIFACT_DIR",
        description="Local directory of the artifact store when MLIPM_ARTIFACT_URL is not set.",
    )
    artifact_url: str = Field(
        "",
        validation_alias="MLIPM_ARTIFACT_URL",
        description="fsspec URL of the content-addressed artifact store (uploaded model files, "
        "training sets), shared by the API and every worker: a directory every host mounts "
        "(file:///data/artifacts), an object store (s3://bucket/artifacts, with s3fs), or a "
        "chain (simplecache::s3://...). Records hold store-relative keys, resolved against "
        "this URL by each process. Empty: file://<absolute MLIPM_ARTIFACT_DIR>.",
    )
    artifact_cache_dir: Path = Field(
        Path(".mlipm/artifact-cache"),
        validation_alias="MLIPM_ARTIFACT_CACHE_DIR",
        description="Local read-through cache of store files (verified by sha256), from which "
        "workers load models; local to each host.",
    )
    max_model_file_mb: float = Field(
        512,
        gt=0,
        validation_alias="MLIPM_MAX_MODEL_FILE_MB",
        description="Largest model file an upload may carry, in MiB (larger: 413).",
    )
    user_storage_quota_mb: float = Field(
        2048,
        gt=0,
        validation_alias="MLIPM_USER_STORAGE_QUOTA_MB",
        description="Storage a submitter's models (files and training sets) may hold in the "
        "artifact store, in MiB; an upload past it is 413. Admins have none.",
    )
    max_archive_extracted_mb: float = Field(
        4096,
        gt=0,
        validation_alias="MLIPM_MAX_ARCHIVE_EXTRACTED_MB",
        description="Most MiB a model-weights archive (.tar.gz/.zip upload or weights_path) "
        "may unpack to on a worker; larger: the run fails with setup_error, nothing is kept.",
    )
    max_archive_ratio: float = Field(
        100,
        gt=0,
        validation_alias="MLIPM_MAX_ARCHIVE_RATIO",
        description="Most bytes a weights archive may unpack to per byte of archive (weights "
        "barely compress; a zip bomb expands ~1000x).",
    )
    max_archive_members: int = Field(
        10000,
        ge=1,
        validation_alias="MLIPM_MAX_ARCHIVE_MEMBERS",
        description="Most files and directories a weights archive may hold.",
    )
    max_training_set_mb: float = Field(
        256,
        gt=0,
        validation_alias="MLIPM_MAX_TRAINING_SET_MB",
        description="Largest training-set file (extxyz) an upload may carry, in MiB (larger: 413).",
    )
    max_request_mb: float = Field(
        8,
        gt=0,
        validation_alias="MLIPM_MAX_REQUEST_MB",
        description="Largest request body (JSON, YAML, anything) in MiB, for every endpoint "
        "that does not stream an upload under its own limit (larger: 413).",
    )
    max_structure_file_mb: float = Field(
        32,
        gt=0,
        validation_alias="MLIPM_MAX_STRUCTURE_FILE_MB",
        description="Largest structure file (CIF, POSCAR, extxyz, ASE JSON) in MiB (larger: 413).",
    )
    max_structure_atoms: int = Field(
        10000,
        gt=0,
        validation_alias="MLIPM_MAX_STRUCTURE_ATOMS",
        description="Most atoms one uploaded structure may have (more: 422).",
    )
    max_structures_per_upload: int = Field(
        2000,
        gt=0,
        validation_alias="MLIPM_MAX_STRUCTURES_PER_UPLOAD",
        description="Most structures one uploaded file may hold (more: 422); checking costs "
        "about 5 ms per small structure.",
    )
    parse_memory_mb: float = Field(
        1024,
        gt=0,
        validation_alias="MLIPM_PARSE_MEMORY_MB",
        description="Memory one upload parser (structure file, training set) may add, in MiB: "
        "every upload is read in a child process with this address-space limit (more: 413), "
        "so no file can grow the API process.",
    )
    parse_timeout_s: float = Field(
        120,
        gt=0,
        validation_alias="MLIPM_PARSE_TIMEOUT_S",
        description="Longest a structure file may take to read and check, in seconds; the "
        "child process reading it is then killed (413).",
    )
    training_set_parse_timeout_s: float = Field(
        600,
        gt=0,
        validation_alias="MLIPM_TRAINING_SET_PARSE_TIMEOUT_S",
        description="Longest a training set (up to MLIPM_MAX_TRAINING_SET_MB) may take to read, "
        "in seconds; the child process reading it is then killed (413).",
    )
    parse_max_concurrent: int = Field(
        2,
        ge=1,
        validation_alias="MLIPM_PARSE_MAX_CONCURRENT",
        description="Uploads parsed at the same time by one API process (each in its own "
        "child process under MLIPM_PARSE_MEMORY_MB); more wait their turn.",
    )
    max_card_depth: int = Field(
        32,
        ge=4,
        validation_alias="MLIPM_MAX_CARD_DEPTH",
        description="Deepest nesting of lists and mappings in a model card or other JSON/YAML "
        "body (deeper: 422).",
    )
    state_dir: Path = Field(
        Path(".mlipm"),
        validation_alias="MLIPM_STATE_DIR",
        description="Where `mlipm demo` keeps local servers' data and logs.",
    )
    api_host: str = Field("127.0.0.1", validation_alias="MLIPM_API_HOST")
    api_port: int = Field(8000, validation_alias="MLIPM_API_PORT")
    api_url: str = Field(
        "http://127.0.0.1:8000",
        validation_alias="MLIPM_API_URL",
        description="Base URL the dashboard and the CLI use to reach the API.",
    )
    dash_host: str = Field("127.0.0.1", validation_alias="MLIPM_DASH_HOST")
    dash_port: int = Field(8050, validation_alias="MLIPM_DASH_PORT")
    flower_host: str = Field("127.0.0.1", validation_alias="MLIPM_FLOWER_HOST")
    flower_port: int = Field(5555, validation_alias="MLIPM_FLOWER_PORT")
    celery_queue: str = Field(
        "cpu", validation_alias="MLIPM_CELERY_QUEUE", description="Queue of CPU-family runs."
    )
    family_queues: dict[str, str] = Field(
        default_factory=dict,
        validation_alias="MLIPM_FAMILY_QUEUES",
        description='Queue per model family, as JSON (e.g. {"mace": "mace", "sevennet": "gpu"}): '
        "families whose packages conflict, or that need a GPU, run on workers listening there. "
        "Families not listed go to MLIPM_CELERY_QUEUE.",
    )
    run_soft_time_limit_s: int = Field(1800, validation_alias="MLIPM_RUN_SOFT_TIME_LIMIT_S")
    run_time_limit_s: int = Field(1900, validation_alias="MLIPM_RUN_TIME_LIMIT_S")
    run_max_attempts: int = Field(
        3,
        ge=1,
        validation_alias="MLIPM_RUN_MAX_ATTEMPTS",
        description="Attempts a run gets (since its last rerun) before it fails for good: as "
        "worker_lost when its workers kept dying, worker_stalled when they kept stalling.",
    )
    run_max_hard_kills: int = Field(
        2,
        ge=1,
        validation_alias="MLIPM_RUN_MAX_HARD_KILLS",
        description="A run killed this many times by the hard time limit fails as timeout.",
    )
    run_lease_s: float = Field(
        60,
        validation_alias="MLIPM_RUN_LEASE_S",
        description="A running run whose worker has not renewed its lease for this long is "
        "presumed lost and may be claimed again.",
    )
    sweep_interval_s: float = Field(
        30,
        validation_alias="MLIPM_SWEEP_INTERVAL_S",
        description="How often the workers (one at a time) re-enqueue runs whose messages "
        "were lost.",
    )
    orphan_sweep_interval_s: float = Field(
        600,
        validation_alias="MLIPM_ORPHAN_SWEEP_INTERVAL_S",
        description="How often a sweep also removes files of run attempts that never "
        "committed (it lists the artifact store's runs/ tree).",
    )
    orphan_grace_s: float = Field(
        600,
        validation_alias="MLIPM_ORPHAN_GRACE_S",
        description="Files of an attempt that never committed are removed once this old.",
    )
    worker_log_tasks: bool = Field(
        False,
        validation_alias="MLIPM_WORKER_LOG_TASKS",
        description="Whether workers log Celery's two INFO lines per task (received, succeeded "
        "in ...). Off by default: each run's outcome, times and worker are in the database "
        "and on its page, and the lines cost 0.2-0.3 ms of every run (docs/performance.md). "
        "Failures and retries' errors are logged either way.",
    )
    worker_synchronous_commit: bool = Field(
        False,
        validation_alias="MLIPM_WORKER_SYNCHRONOUS_COMMIT",
        description="Whether workers' claims and results wait for the WAL flush. Off by "
        "default: a Postgres crash may then forget the last fraction of a second of them, "
        "which the sweeper re-runs (nothing is lost or written twice), and each run saves two "
        "disk flushes (docs/performance.md). The API always commits synchronously.",
    )
    broker_visibility_timeout_s: int = Field(
        3600,
        validation_alias="MLIPM_BROKER_VISIBILITY_TIMEOUT_S",
        description="Unacknowledged messages are redelivered after this; above every time limit.",
    )
    dashboard_poll_ms: int = Field(5000, validation_alias="MLIPM_DASHBOARD_POLL_MS")

    @model_validator(mode="after")
    def _default_artifact_url(self) -> Settings:
        if not self.artifact_url.strip():
            self.artifact_url = self.artifact_dir.resolve().as_uri()
        return self

    def queue_for(self, family: str) -> str:
        """The Celery queue that runs of ``family`` are sent to."""
        return self.family_queues.get(family, self.celery_queue)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache after changing the env)."""
    return Settings()
