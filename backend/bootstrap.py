"""Load what every installation starts with: references, structure sets, benchmarks, baselines.

A composition root: it reads the science core (ASE data, fitted baselines) and writes through the
backend's services. Every step is idempotent: running it twice changes nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ase import Atoms
from sqlalchemy.orm import Session

from backend.services import catalog, models
from workers.adapters.baselines import baseline_models
from workers.adapters.pretrained import pretrained_models
from workers.benchmarks.base import load_all
from workers.execution import atoms_to_json
from workers.fingerprints import structure_fingerprint
from workers.landscape_structures import cluster_structures
from workers.reference_data import (
    StructureRecord,
    elemental_crystals,
    experimental_references,
    s22_references,
)
from workers.reference_pymatgen import pymatgen_references
from workers.reference_s22 import s22_structures

ELEMENTAL_CRYSTALS = "elemental crystals"
S22 = "S22"
CLUSTERS = "clusters"


@dataclass
class BootstrapReport:
    references_added: int = 0
    structures_added: int = 0
    benchmarks_added: int = 0
    models_added: int = 0


def load_reference_data(session: Session) -> BootstrapReport:
    """Experimental and CCSD(T) references plus the 'elemental crystals' structure set."""
    report = BootstrapReport()
    records = [*experimental_references(), *s22_references(), *pymatgen_references()]
    report.references_added = catalog.load_references(
        session,
        [{**dataclasses.asdict(r), "conditions": dict(r.conditions)} for r in records],
    )
    report.structures_added = catalog.load_structure_set(
        session,
        name=ELEMENTAL_CRYSTALS,
        description="Elemental solids in their experimental crystal structure (fcc, bcc, hcp, "
        "diamond, sc) at the experimental lattice constant, primitive cells.",
        source="ase.data.reference_states (Ashcroft & Mermin) via ase.build.bulk",
        structures=[_structure_in(s) for s in elemental_crystals()],
    )
    report.structures_added += catalog.load_structure_set(
        session,
        name=S22,
        description="The S22 non-covalent complexes at their reference geometries (monomer A "
        "first; sizes in info), with CCSD(T)/CBS interaction energies as references.",
        source="ase.data.s22 (Jurecka et al. 2006; Takatani et al. 2010)",
        structures=[_structure_in(s) for s in s22_structures()],
    )
    report.structures_added += catalog.load_structure_set(
        session,
        name=CLUSTERS,
        description="Small clusters (Cu13 icosahedron, Cu38 truncated octahedron) relaxed with "
        "EMT, each carrying its energy-landscape plane (defined once by EMT) for the "
        "landscape benchmark.",
        source="ase.cluster; planes: workers.landscape_structures",
        structures=[_structure_in(s) for s in cluster_structures()],
    )
    return report


def _structure_in(record: StructureRecord) -> catalog.StructureIn:
    atoms = record.atoms
    return catalog.StructureIn(
        label=record.label,
        material=record.material,
        formula=atoms.get_chemical_formula(),
        elements=sorted(set(atoms.get_chemical_symbols())),
        n_atoms=len(atoms),
        data=atoms_to_json(atoms),
        fingerprint=_fingerprint(atoms),
    )


def _fingerprint(atoms: Atoms) -> tuple[str, tuple[float, ...]] | None:
    """The structure's tolerance-robust fingerprint, for the leakage check."""
    found = structure_fingerprint(atoms)
    return None if found is None else (found.key, found.values)


def register_benchmarks(session: Session) -> int:
    added = 0
    for spec in load_all().values():
        added += catalog.register_benchmark(
            session,
            key=spec.key,
            version=spec.version,
            description=spec.description,
            default_params=spec.default_params(),
            headline_metrics=[dataclasses.asdict(h) for h in spec.headline],
            soft_time_limit_s=spec.soft_time_limit_s,
            time_limit_s=spec.time_limit_s,
        )
    return added


def register_builtin_models(session: Session) -> int:
    """The baselines, and the MLIPs whose weights ship in their packages (run when installed)."""
    added = 0
    for record in (*baseline_models(), *pretrained_models()):
        _, created = models.upsert_builtin(
            session,
            name=record.name,
            version=record.version,
            family=record.family,
            params=record.params,
            card=record.card,
            elements=list(record.elements),
            is_baseline=record.is_baseline,
        )
        added += created
    return added


def bootstrap(session: Session) -> BootstrapReport:
    report = load_reference_data(session)
    report.benchmarks_added = register_benchmarks(session)
    report.models_added = register_builtin_models(session)
    return report
