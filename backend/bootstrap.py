"""Load what every installation starts with: references, structure sets, benchmarks, baselines.

A composition root: it reads the science core (ASE data, fitted baselines) and writes through the
backend's services. Every step is idempotent: running it twice changes nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ase import Atoms
from sqlalchemy.orm import Session

from backend.services import catalog, models
from workers.adapters.baselines import baseline_models
from workers.adapters.pretrained import control_models, pretrained_models
from workers.atoms_json import atoms_to_json
from workers.benchmarks.base import load_all
from workers.fingerprints import structure_fingerprint
from workers.landscape_structures import cluster_structures
from workers.phases import space_group_of_data
from workers.reference_data import (
    ReferenceRecord,
    StructureRecord,
    elemental_crystals,
    s22_references,
)
from workers.reference_phases import copied_conditions
from workers.reference_s22 import s22_structures
from workers.reference_sets import elemental_crystal_references, other_phase_references
from workers.reference_sol58 import (
    LATTICE_SOURCE,
    sol58_compound_references,
    sol58_compounds,
)

ELEMENTAL_CRYSTALS = "elemental crystals"
S22 = "S22"
COMPOUNDS = "binary compounds"
CLUSTERS = "clusters"


@dataclass
class BootstrapReport:
    references_added: int = 0
    structures_added: int = 0
    benchmarks_added: int = 0
    models_added: int = 0


def load_reference_data(session: Session) -> BootstrapReport:
    """The structure sets, then the references attached to each (checked against its phases).

    Raises PhaseMismatch, before writing a set's references, if one names another phase than
    the set's structure of its material.
    """
    report = BootstrapReport(structures_added=load_structure_sets(session))
    for structure_set, records in (
        (ELEMENTAL_CRYSTALS, elemental_crystal_references()),
        (S22, s22_references()),
        (COMPOUNDS, sol58_compound_references()),
    ):
        report.references_added += catalog.load_references(
            session,
            [_reference_row(r) for r in records],
            structure_set=structure_set,
            read_space_group=space_group_of_data,
        )
    # Earlier releases stored these (another phase than the set's): name their phase, so
    # that `mlipm refs check --fix` moves their metrics to a reference of the right phase.
    catalog.name_phases(session, [_reference_row(r) for r in other_phase_references()])
    return report


def load_structure_sets(session: Session) -> int:
    """The elemental crystals, the S22 complexes, the binary compounds and the clusters;
    returns how many were new."""
    added = catalog.load_structure_set(
        session,
        name=ELEMENTAL_CRYSTALS,
        description="Elemental solids in their experimental crystal structure (fcc, bcc, hcp, "
        "diamond, sc) at the experimental lattice constant, primitive cells.",
        source="ase.data.reference_states (Ashcroft & Mermin) via ase.build.bulk",
        structures=[_structure_in(s) for s in elemental_crystals()],
    )
    added += catalog.load_structure_set(
        session,
        name=S22,
        description="The S22 non-covalent complexes at their reference geometries (monomer A "
        "first; sizes in info), with CCSD(T)/CBS interaction energies as references.",
        source="ase.data.s22 (Jurecka et al. 2006; Takatani et al. 2010)",
        structures=[_structure_in(s) for s in s22_structures()],
    )
    added += catalog.load_structure_set(
        session,
        name=COMPOUNDS,
        description="The 31 cubic binary compounds of the Sol58 set (rocksalt halides, oxides, "
        "carbides and nitrides; zincblende III-V and IV-IV semiconductors; B2 aluminides) in "
        "their prototype at the experimental lattice constant corrected for zero-point "
        "expansion, primitive cells; each checked against its prototype's space group.",
        source=LATTICE_SOURCE,
        structures=[_structure_in(s) for s in sol58_compounds()],
    )
    added += catalog.load_structure_set(
        session,
        name=CLUSTERS,
        description="Small clusters (Cu13 icosahedron, Cu38 truncated octahedron) relaxed with "
        "EMT, each carrying its energy-landscape plane (defined once by EMT) for the "
        "landscape benchmark.",
        source="ase.cluster; planes: workers.landscape_structures",
        structures=[_structure_in(s) for s in cluster_structures()],
    )
    return added


def _reference_row(record: ReferenceRecord) -> dict[str, Any]:
    return {**dataclasses.asdict(record), "conditions": copied_conditions(record.conditions)}


def _structure_in(record: StructureRecord) -> catalog.StructureIn:
    atoms = record.atoms
    data = atoms_to_json(atoms)
    return catalog.StructureIn(
        label=record.label,
        material=record.material,
        formula=atoms.get_chemical_formula(),
        elements=sorted(set(atoms.get_chemical_symbols())),
        n_atoms=len(atoms),
        data=data,
        fingerprint=_fingerprint(atoms),
        space_group=space_group_of_data(data) or 0,
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
    """The baselines, the MLIPs whose weights ship in their packages (run when installed) and
    their random-weight controls."""
    added = 0
    for record in (*baseline_models(), *pretrained_models(), *control_models()):
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
