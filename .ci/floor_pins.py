"""Print every ``name>=X`` install requirement of the project and its plugins as ``name==X`` (pip constraints).

The floors in ``pyproject.toml`` and ``plugins/*/pyproject.toml`` become exact pins, so that ``.ci/floors``
installs the oldest versions the project claims to support; where two packages give one dependency
different floors, the higher one is the floor of the whole installation. Requirements without a ``>=`` floor (exact
pins, the project's own packages) are left to the resolver; ``torch`` is left out, because the lab
machines get their torch from ``requirements/constraints.txt`` (an old torch from PyPI is a CUDA build
of several GB).

    python .ci/floor_pins.py > floors.txt
"""

import re
import tomllib
from pathlib import Path

from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
FLOOR = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?>=([^,;\s]+)$")
LEFT_OUT = {"torch"}


def floors(pyprojects) -> dict[str, str]:
    """``{distribution name: highest floor}`` of the ``>=`` requirements (dependencies and optional ones) of ``pyprojects``."""
    found = {}
    for path in pyprojects:
        project = tomllib.loads(path.read_text())["project"]
        requirements = project.get("dependencies", []) + sum(project.get("optional-dependencies", {}).values(), [])
        for requirement in requirements:
            match = FLOOR.match(requirement.replace(" ", ""))
            if match and match[1].lower() not in LEFT_OUT:
                name, version = match[1].lower(), match[3]
                found[name] = max(found.get(name, version), version, key=Version)
    return found


if __name__ == "__main__":
    for name, version in sorted(floors([REPO / "pyproject.toml", *sorted(REPO.glob("plugins/*/pyproject.toml"))]).items()):
        print(f"{name}=={version}")
