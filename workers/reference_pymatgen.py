"""Experimental elastic and thermal-expansion references of the elements, from pymatgen.

pymatgen's ``Element`` carries room-temperature handbook values of the polycrystalline
elements: Young's modulus, rigidity (shear) modulus, Poisson's ratio and the coefficient of
linear thermal expansion. pymatgen gives no per-property citation; its periodic-table data
were compiled mostly from WebElements (pymatgen pull request #4507), which in turn quotes
handbook sources such as the CRC Handbook of Chemistry and Physics. Values are taken as
pymatgen ships them (a few are doubtful, e.g. Mo's rigidity modulus of 20 GPa against
~120 GPa in handbooks); missing values are skipped. Each value names the phase of the
element's standard state (``workers.reference_phases.standard_state_phase``: graphite for C).
"""

from __future__ import annotations

from workers.reference_data import ReferenceRecord
from workers.reference_phases import standard_state_phase, with_phase

PYMATGEN_SOURCE = (
    "Handbook values (WebElements, M. Winter, www.webelements.com; CRC Handbook of Chemistry "
    "and Physics) as compiled in pymatgen.core.periodic_table (S. P. Ong et al., Comput. "
    "Mater. Sci. 68, 314 (2013)); polycrystalline, room temperature"
)

#: (reference property, pymatgen Element attribute, unit the value is stored in).
PYMATGEN_PROPERTIES = (
    ("youngs_modulus", "youngs_modulus", "GPa"),
    ("shear_modulus", "rigidity_modulus", "GPa"),
    ("poisson_ratio", "poissons_ratio", "1"),
    ("linear_thermal_expansion_coefficient", "coefficient_of_linear_thermal_expansion", "1/K"),
)


def pymatgen_references() -> list[ReferenceRecord]:
    """Experimental moduli and expansion coefficients of the elements, from pymatgen.

    Returns
    -------
    list[ReferenceRecord]
        Per element with data: ``youngs_modulus`` (GPa), ``shear_modulus`` (GPa, pymatgen's
        ``rigidity_modulus``), ``poisson_ratio`` (1) and
        ``linear_thermal_expansion_coefficient`` (1/K), level of theory ``experiment``,
        conditions ``{"temperature_k": 300}`` plus the standard state's ``"phase"`` where
        it is known.

    Raises
    ------
    ModuleNotFoundError
        If pymatgen is not installed.
    """
    import warnings

    from pymatgen.core import Element

    records = []
    for element in Element:
        if getattr(element, "_is_named_isotope", False):
            continue  # D and T repeat H
        for prop, attribute, unit in PYMATGEN_PROPERTIES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pymatgen warns for every missing value
                value = getattr(element, attribute)
            if value is None:
                continue
            records.append(
                ReferenceRecord(
                    material=element.symbol,
                    property=prop,
                    value=float(value),
                    unit=unit,
                    level_of_theory="experiment",
                    source=PYMATGEN_SOURCE,
                    dataset="pymatgen.core.periodic_table",
                    conditions=with_phase(
                        {"temperature_k": 300}, standard_state_phase(element.symbol)
                    ),
                )
            )
    return records
