"""The "clusters" structure set: small metal clusters, each with its landscape plane stored.

The plane of each cluster is sampled once with a reference model (EMT, which was fitted to
copper) and stored in ``atoms.info["landscape_plane"]``, so that every model's landscape run
evaluates the same configurations and any two can be subtracted.
"""

from __future__ import annotations

from ase import Atoms
from ase.calculators.emt import EMT
from ase.cluster import Icosahedron, Octahedron

from workers.benchmarks._plane import PLANE_INFO_KEY, define_plane
from workers.benchmarks.landscape import LandscapeParams
from workers.reference_data import StructureRecord

PLANE_REFERENCE = "EMT (ase.calculators.emt, Jacobsen et al. 1996)"


def cluster_structures() -> list[StructureRecord]:
    """Cu13 (icosahedron) and Cu38 (truncated octahedron), relaxed by EMT, planes stored.

    Sampled with the default ``LandscapeParams`` (FIRE path from a 0.15 Å rattle, NVE from
    100 K and 300 K); about 3.5 s on one core.
    """
    sampling = LandscapeParams().sampling()
    records = []
    for label, atoms, source in (
        ("Cu13", Icosahedron("Cu", noshells=2), "ase.cluster.Icosahedron('Cu', noshells=2)"),
        ("Cu38", Octahedron("Cu", length=4, cutoff=1), "ase.cluster.Octahedron('Cu', 4, 1)"),
    ):
        plane = define_plane(atoms, EMT(), sampling, reference=PLANE_REFERENCE)
        cluster = Atoms(atoms.get_chemical_symbols(), positions=plane.minimum)
        cluster.info = {"source": source, PLANE_INFO_KEY: plane.to_info()}
        records.append(StructureRecord(label, label, cluster, source, "cluster"))
    return records
