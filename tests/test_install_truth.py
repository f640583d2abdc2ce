"""One install truth: the files-only extras live in requirements/no-deps.txt, the torch pin in requirements/constraints.txt.

The Makefile and environment.yml read those files and name none of their packages themselves, and no
package's install requirements pin torch, so a user with a CUDA torch can install the project into it.
"""

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NO_DEPS = "requirements/no-deps.txt"
CONSTRAINTS = "requirements/constraints.txt"
PYPROJECTS = [REPO / "pyproject.toml", *sorted(REPO.glob("plugins/*/pyproject.toml"))]


def requirement_names(path: Path) -> list[str]:
    """Distribution names of a requirements file's requirement lines (comments and options skipped)."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [re.split(r"[=<>!~\[ ;]", line)[0].lower() for line in lines if line and not line.startswith("-")]


def setup_recipe() -> str:
    """The recipe lines of the Makefile rule that `make setup` runs (the venv stamp), comments removed."""
    text = (REPO / "Makefile").read_text()
    rule = re.search(r"^\$\(STAMP\):.*\n((?:\t.*\n)+)", text, re.M)
    assert rule, "the Makefile has no $(STAMP) rule"
    return "\n".join(line.split(" #")[0] for line in rule[1].splitlines())


def test_the_no_deps_extras_are_listed_once_and_pinned():
    names = requirement_names(REPO / NO_DEPS)
    assert names == ["digit-recognizer-py", "foolbox", "brainscore-brainio"]
    assert all("==" in line for line in (REPO / NO_DEPS).read_text().splitlines() if line and not line.startswith("#"))


def test_make_setup_installs_the_no_deps_file_and_names_none_of_its_packages():
    recipe = setup_recipe().replace("$(NO_DEPS)", NO_DEPS).replace("$(CONSTRAINTS)", CONSTRAINTS)
    assert re.search(rf"pip install .*--no-deps -r {re.escape(NO_DEPS)}", recipe)
    for name in requirement_names(REPO / NO_DEPS):
        assert name not in recipe.lower(), f"the Makefile names {name} itself; it belongs in {NO_DEPS} only"
    pip_calls = [line for line in recipe.splitlines() if re.search(r"pip install(?! --quiet --upgrade pip)", line)]
    assert pip_calls and all(f"-c {CONSTRAINTS}" in line for line in pip_calls), "every pip call of make setup must apply the torch constraint"


def test_environment_yml_reads_the_same_files_and_names_none_of_their_packages():
    text = (REPO / "environment.yml").read_text()
    pip_section = text.split("- pip:", 1)[1]
    # conda's pip section cannot pass --no-deps (conda/conda#6805), so the file is installed by the command
    # the environment's header gives, the same one make setup runs
    assert f"pip install --no-deps -r {NO_DEPS}" in text.split("name:", 1)[0]
    assert f"-c {CONSTRAINTS}" in pip_section
    for name in requirement_names(REPO / NO_DEPS) + ["torch"]:
        assert not re.search(rf"^\s*- {re.escape(name)}\b", pip_section, re.M | re.I), f"environment.yml lists {name} itself"


@pytest.mark.parametrize("pyproject", PYPROJECTS, ids=lambda p: str(p.relative_to(REPO)))
def test_no_install_requirement_pins_torch_or_needs_a_no_deps_extra(pyproject):
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = project.get("dependencies", []) + sum(project.get("optional-dependencies", {}).values(), [])
    names = {re.split(r"[=<>!~\[ ;]", r)[0].lower(): r for r in requirements}
    assert not re.search(r"==|<", names.get("torch", "")), f"{pyproject} pins torch: {names['torch']}"
    assert not set(names) & set(requirement_names(REPO / NO_DEPS))


def test_the_torch_pin_is_the_constraint_the_lab_machines_use():
    assert requirement_names(REPO / CONSTRAINTS) == ["torch"]
    assert "torch==2.13.0" in (REPO / CONSTRAINTS).read_text()


def test_the_pot_floor_is_the_first_release_with_ot_batch():
    """blocks.py uses ``ot.batch.bregman_log_projection_batch``: POT 0.9.5 has no ot/batch, 0.9.6 is the first with it."""
    import ot.batch

    assert hasattr(ot.batch, "bregman_log_projection_batch")
    core = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "pot>=0.9.6" in core
