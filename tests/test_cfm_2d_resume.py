"""``benchmarks/cfm_2d.py --resume``: a long run goes on where it stopped and never drops saved runs."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "cfm_2d.py"


@pytest.fixture(scope="module")
def cfm_2d():
    spec = importlib.util.spec_from_file_location("cfm_2d_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(out, *extra):
    return ["--epochs", "1", "--tasks", "8gaussians-moons", "--methods", "fa-independent", "--out", str(out), *extra]


def test_resume_runs_only_the_missing_seeds_and_keeps_the_saved_runs(cfm_2d, tmp_path, capsys):
    out = tmp_path / "runs.json"
    cfm_2d.main(_args(out, "--seeds", "42"))
    first = json.loads(out.read_text())["runs"]
    assert [(r["seed"], r["width"]) for r in first] == [(42, 64)]

    cfm_2d.main(_args(out, "--seeds", "42", "43", "--resume"))
    runs = json.loads(out.read_text())["runs"]
    assert [r["seed"] for r in runs] == [42, 43]
    assert runs[0] == first[0]  # not re-run: the same fit time to the last digit
    assert "43" in capsys.readouterr().out


def test_resume_refuses_a_file_of_other_settings_and_leaves_it_as_it_was(cfm_2d, tmp_path):
    out = tmp_path / "runs.json"
    cfm_2d.main(_args(out, "--seeds", "42"))
    saved = out.read_bytes()
    with pytest.raises(SystemExit, match=r"runs at \(epochs, batch, width\) \[\(1, 512, 64\)\], not \(2, 512, 64\)"):
        cfm_2d.main(["--epochs", "2", *_args(out, "--seeds", "42", "--resume")[2:]])
    assert out.read_bytes() == saved


def test_resume_needs_an_out_file(cfm_2d):
    with pytest.raises(SystemExit, match="--resume needs --out"):
        cfm_2d.main(["--epochs", "1", "--seeds", "42", "--resume"])
