"""The tables (SQLAlchemy ORM classes), one module per aggregate; importing this package
registers them all. ("models" on this platform are MLIPs: see backend/services/models.py.)"""

from backend.db.tables.benchmark import Benchmark
from backend.db.tables.campaign import Campaign, CampaignRun
from backend.db.tables.leaderboard import (
    LeaderboardModelVersion,
    LeaderboardVersion,
)
from backend.db.tables.mlip_model import MlipModel, TrainingStructureHash
from backend.db.tables.projection import Projection
from backend.db.tables.reference import Reference
from backend.db.tables.representation_summary import RepresentationSummary
from backend.db.tables.run import Metric, Run, RunAttempt, Series
from backend.db.tables.run_artifact import RunArtifact
from backend.db.tables.structure import Structure, StructureSet
from backend.db.tables.system_state import SystemState
from backend.db.tables.user import ApiToken, User

__all__ = [
    "ApiToken",
    "Benchmark",
    "Campaign",
    "CampaignRun",
    "LeaderboardModelVersion",
    "LeaderboardVersion",
    "Metric",
    "MlipModel",
    "Projection",
    "Reference",
    "RepresentationSummary",
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
