"""The `flowalign` command: one-line errors with exit status 2, --debug tracebacks, no silent overwrite."""

import re
import subprocess
import sys

import pytest

from flowalign_nb.cli import main
from flowalign_nb.runs.folder import load_run

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py

TINY = ["--task-options", '{"n_train": 200, "n_test": 60}', "--steps", "5", "--quiet"]

MISTAKES = [
    (["fit", "synthetic", "--method", "exemplar", "--fraction", "5"], r"^flowalign fit: fraction=5\.0 is not allowed; it must be a number in \(0, 1\]$"),
    (["fit", "nosuch", "--method", "exemplar", "--fraction", "0.1"], r"^flowalign fit: unknown task 'nosuch'; known tasks: .*synthetic"),
    (["fit", "synthetic", "--method", "nope", "--fraction", "0.1"], r"^flowalign fit: unknown method 'nope'; use 'coupling' or 'coupling\+bridge'"),
    (["fit", "synthetic", "--method", "ridge", "--fraction", "0.1"], r"^flowalign fit: method 'ridge' is a baseline; a fit trains a flow"),
    (["fit", "synthetic", "--method", "exemplar", "--fraction", "0.1", "--flow-options", '{"stpes": 5}'],
     r"^flowalign fit: .*stpes.*accepted: "),
    (["sweep", "nosuch"], r"^flowalign sweep: unknown task 'nosuch'; known tasks: "),
    (["sweep", "synthetic", "--methods", "exemplar", "bogus+prototype"], r"^flowalign sweep: unknown method 'bogus\+prototype'"),
    (["sweep", "synthetic", "--fractions", "0"], r"^flowalign sweep: fractions \[0\.0\] are not allowed; each must be a number in \(0, 1\]$"),
    (["demo", "--fraction", "2"], r"^flowalign demo: fraction=2\.0 is not allowed; it must be a number in \(0, 1\]$"),
    (["report", "no/such/run"], r"^flowalign report: .*no/such/run"),
]


@pytest.mark.parametrize("argv, message", MISTAKES, ids=[" ".join(a[:2]) + f" #{i}" for i, (a, _) in enumerate(MISTAKES)])
def test_mistakes_print_one_line_naming_the_bad_value_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert re.search(message, err.strip()), err


@pytest.mark.parametrize("argv, message", [
    (["fit", "synthetic", "--method", "exemplar", "--fraction", "half"], r"^flowalign fit: argument --fraction: invalid float value: 'half'"),
    (["fit", "synthetic", "--fraction", "0.1"], r"^flowalign fit: the following arguments are required: --method"),
    (["demo", "--no-such-flag"], r"^flowalign: unrecognized arguments: --no-such-flag"),
    (["nosuch"], r"^flowalign: argument command: invalid choice: 'nosuch' \(choose from .*'fit'"),
])
def test_argument_errors_are_one_line_too(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert re.search(message, err), err


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(ValueError, match=r"fraction=5\.0 is not allowed"):
        main(["--debug", "fit", "synthetic", "--method", "exemplar", "--fraction", "5"])
    with pytest.raises(ValueError, match=r"fraction=5\.0 is not allowed"):
        main(["fit", "synthetic", "--method", "exemplar", "--fraction", "5", "--debug"])
    done = subprocess.run([sys.executable, "-m", "flowalign_nb.cli", "fit", "synthetic", "--method", "exemplar", "--fraction", "5",
                           "--debug"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback (most recent call last)" in done.stderr and "fraction=5.0" in done.stderr


def test_fit_refuses_an_existing_run_unless_overwrite(tmp_path, capsys):
    output = tmp_path / "run"
    argv = ["fit", "synthetic", "--method", "exemplar", "--fraction", "0.2", "--output", str(output), *TINY]
    assert main(argv) == 0
    before = (output / "scores.csv").read_bytes()
    capsys.readouterr()
    assert main([*argv[:-len(TINY)], "--task-options", '{"n_train": 200, "n_test": 60}', "--steps", "6", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"flowalign fit: {output} already exists; pass --overwrite to replace it, or choose another --output"
    assert (output / "scores.csv").read_bytes() == before
    assert main([*argv, "--overwrite"]) == 0
    assert load_run(output).config["kind"] == "fit"
    # a folder that is not a fit run is never replaced, even with --overwrite
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(["fit", "synthetic", "--method", "exemplar", "--fraction", "0.2", "--output", str(mine), *TINY, "--overwrite"]) == 2
    assert (mine / "notes.txt").read_text() == "keep me"
    assert "notes.txt" in capsys.readouterr().err


def test_demo_replaces_only_an_earlier_demo_run(tmp_path):
    from flowalign_nb.cli import SWEEP_RUN_FILES, UsageError, _check_output

    earlier = tmp_path / "mnist_effnet_to_cnn"
    earlier.mkdir()
    (earlier / "run.json").write_text('{"kind": "sweep", "task": "mnist_effnet_to_cnn"}')
    (earlier / "sweep_frechet.png").write_bytes(b"png")
    assert _check_output(earlier, False, SWEEP_RUN_FILES, earlier_demo=True) is True
    assert _check_output(tmp_path / "absent", False, SWEEP_RUN_FILES, earlier_demo=True) is False
    other_task = tmp_path / "mnist_text_to_image"
    other_task.mkdir()
    (other_task / "run.json").write_text('{"kind": "fit", "task": "synthetic"}')
    with pytest.raises(UsageError, match=r"already exists; pass --overwrite"):
        _check_output(other_task, False, SWEEP_RUN_FILES, earlier_demo=True)
    assert _check_output(other_task, True, SWEEP_RUN_FILES, earlier_demo=True) is True
    (other_task / "thesis.tex").write_text("mine")
    with pytest.raises(UsageError, match=r"holds files that are not a run's \(thesis.tex\)"):
        _check_output(other_task, True, SWEEP_RUN_FILES, earlier_demo=True)


def test_report_refuses_an_existing_file_unless_overwrite(tmp_path, capsys):
    saved = tmp_path / "mine.html"
    saved.write_text("a report I kept")
    assert main(["report", str(tmp_path / "run"), "-o", str(saved)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"flowalign report: {saved} already exists; pass --overwrite to replace it, or choose another -o")
    assert saved.read_text() == "a report I kept"
    # with --overwrite the file is no longer the obstacle: the missing run folder is
    assert main(["report", str(tmp_path / "run"), "-o", str(saved), "--overwrite"]) == 2
    assert "already exists" not in capsys.readouterr().err and saved.read_text() == "a report I kept"
