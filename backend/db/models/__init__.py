"""ORM models, one module per aggregate; importing this package registers them all."""

from backend.db.models.benchmark import Benchmark
from backend.db.models.campaign import Campaign, CampaignRun
from backend.db.models.leaderboard import (
    LeaderboardFlagSummary,
    LeaderboardMetricSummary,
    LeaderboardRunSummary,
    LeaderboardValueSummary,
    LeaderboardVersion,
)
from backend.db.models.mlip_model import MlipModel, TrainingStructureHash
from backend.db.models.projection import Projection
from backend.db.models.reference import Reference
from backend.db.models.run import Metric, Run, RunAttempt, Series
from backend.db.models.run_artifact import RunArtifact
from backend.db.models.structure import Structure, StructureSet
from backend.db.models.system_state import SystemState
from backend.db.models.user import ApiToken, User

__all__ = [
    "ApiToken",
    "Benchmark",
    "Campaign",
    "CampaignRun",
    "LeaderboardFlagSummary",
    "LeaderboardMetricSummary",
    "LeaderboardRunSummary",
    "LeaderboardValueSummary",
    "LeaderboardVersion",
    "Metric",
    "MlipModel",
    "Projection",
    "Reference",
    "Run",
    "RunArtifact",
    "RunAttempt",
    "Series",
    "Structure",
    "StructureSet",
    "SystemState",
    "TrainingStructureHash",
    "User",
]
