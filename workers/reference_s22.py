"""The S22 set of non-covalent complexes as reference structures (read from ``ase.data.s22``).

Each complex carries the size of its first monomer in ``atoms.info["monomer_a"]`` so that the
``s22`` benchmark can split it; its CCSD(T)/CBS interaction energy is a reference of
``workers.reference_data.s22_references`` under the same name (material = system name).
"""

from __future__ import annotations

from typing import Any, cast

from workers.reference_data import S22_SOURCE, StructureRecord

#: ``StructureRecord.crystal_structure`` of a molecular complex (it has no crystal structure).
S22_KIND = "molecular_complex"


def s22_structures() -> list[StructureRecord]:
    """The 22 complexes of the S22 set at their reference geometries.

    Returns
    -------
    list[StructureRecord]
        One record per complex, in the order of ``ase.data.s22.s22``; ``label`` and
        ``material`` are the system name (e.g. ``"Water_dimer"``). The atoms (Å, no cell,
        not periodic) list monomer A first; ``atoms.info`` holds ``s22`` (the name),
        ``monomer_a`` and ``monomer_b`` (their numbers of atoms) and the provenance.
    """
    from ase.data import s22

    records = []
    for name in s22.s22:
        atoms = s22.create_s22_system(name)
        n_a, n_b = (int(n) for n in cast("dict[str, Any]", s22.data[name])["dimer atoms"])
        atoms.info.update(
            {
                "label": name,
                "s22": name,
                "monomer_a": n_a,
                "monomer_b": n_b,
                "source": S22_SOURCE,
                "dataset": "ase.data.s22",
            }
        )
        records.append(
            StructureRecord(
                label=name,
                material=name,
                atoms=atoms,
                source=S22_SOURCE,
                crystal_structure=S22_KIND,
            )
        )
    return records
