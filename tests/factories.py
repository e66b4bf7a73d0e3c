"""Plain helpers that put test data in place through the services (no random data needed)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from backend.bootstrap import ELEMENTAL_CRYSTALS
from backend.repositories import references as ref_repo
from backend.services import catalog

# eos always writes V0, B0, B', E0 and the fit residual (more metrics depend on the grid)
EOS_CORE_METRICS = frozenset(
    {
        "volume_per_atom",
        "bulk_modulus",
        "bulk_modulus_pressure_derivative",
        "energy_per_atom_min",
        "fit_residual_rms",
    }
)


def crystal_subset(session: Session, name: str, labels: Iterable[str]) -> None:
    """A structure set holding the given elemental crystals, exactly as stored (not committed)."""
    elemental = ref_repo.get_structure_set_by_name(session, ELEMENTAL_CRYSTALS)
    assert elemental is not None, "bootstrap the database first"
    wanted = set(labels)
    picked = [s for s in ref_repo.list_structures(session, elemental.id) if s.label in wanted]
    assert {s.label for s in picked} == wanted
    catalog.load_structure_set(
        session,
        name=name,
        description="tests",
        source="tests",
        structures=[
            catalog.StructureIn(s.label, s.material, s.formula, s.elements, s.n_atoms, s.data)
            for s in picked
        ],
    )
