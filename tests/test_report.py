"""Lab reports: a small sweep run (with one fit kept in detail) rendered to one self-contained HTML page.

The run uses a task and an analysis registered by a tiny plugin (an entry point), so the report must
show the plugin's analysis as a section and the task's images. Everything is small: 300 training
items, 30 flow steps.
"""

import base64
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import warnings
from importlib.metadata import EntryPoint

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

import flowalign_nb
import flowalign_nb as fa
from flowalign_nb.cli import main
from flowalign_nb.plugins import ENTRY_POINT_GROUP, Plugins
from flowalign_nb.runs.provenance import now
from flowalign_nb.report.render import remote_references
from flowalign_nb.runs.folder import load_run
from flowalign_nb.runs.sweep import save_sweep_run

PLUGIN = '''
import numpy as np
import pandas as pd

from flowalign_nb import hookimpl
from flowalign_nb.data.model import labelled_mask
from flowalign_nb.tasks.synthetic import SyntheticTask


class TinyImageTask(SyntheticTask):
    """The synthetic task, small, with a cheap end-to-end baseline and 4x4 "images" of its items."""

    def __init__(self):
        super().__init__(n_train=300, n_test=100)

    def end_to_end(self, source, data):
        known = labelled_mask(source)
        labels = source["label"].values[known]
        classes = np.unique(labels)
        means = np.stack([source.values[known][labels == c].mean(0) for c in classes])
        test = data.source_test.values
        guess = classes[np.argmin(((test[:, None, :] - means[None]) ** 2).sum(-1), axis=1)]
        return {"accuracy": float(np.mean(guess == data.source_test["label"].values))}

    def report_images(self, moved, data):
        return {"source items": data.source_test.values[:6, :16].reshape(6, 4, 4),
                "transported items": moved.values[:6, :16].reshape(6, 4, 4)}


def mean_norm(scale: float = 1.0):
    def analysis(a, b):
        return pd.DataFrame([{"metric": "mean_norm", "value": scale * float(np.linalg.norm(a.values, axis=1).mean())}])
    return analysis


@hookimpl
def flowalign_register_tasks(registry):
    registry.add("tiny_images", TinyImageTask, description="small synthetic task with images")


@hookimpl
def flowalign_register_analyses(registry):
    registry.add("mean_norm", mean_norm, description="mean norm of the items")
'''
SECTIONS = ["Summary", "Training curves", "Coupling diagnostics", "RSA and decoding before and after alignment",
            "Other analyses (plugins)", "Label-fraction figure", "Generated images", "Provenance", "How to reproduce"]
SWEEP = ["flowalign", "sweep", "tiny_images", "--fractions", "0.1", "0.5", "--seeds", "0",
         "--methods", "exemplar", "end_to_end", "ceiling", "--steps", "30"]


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "fa_report_test_plugin.py").write_text(textwrap.dedent(PLUGIN))
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(folder))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            plugins = Plugins(entry_points=[EntryPoint("reportplugin", "fa_report_test_plugin", group=ENTRY_POINT_GROUP)])
        mp.setattr(flowalign_nb.plugins, "_plugins", plugins)
        yield
    sys.modules.pop("fa_report_test_plugin", None)


@pytest.fixture(scope="module")
def sweep_run(plugin, tmp_path_factory):
    """A sweep run folder of two fractions, its exemplar cell at 10 % kept as a fit."""
    started = now()
    table = fa.sweep("tiny_images", fractions=[0.1, 0.5], seeds=[0], methods=["exemplar", "end_to_end", "ceiling"],
                     flow_options={"steps": 30}, progress=False)
    folder = tmp_path_factory.mktemp("runs") / "sweep"
    return save_sweep_run(table, folder, command=SWEEP[:], started=started, flow_options={"steps": 30},
                          fits=[("exemplar", 0.1, 0)])


@pytest.fixture(scope="module")
def page(sweep_run):
    path = fa.report(sweep_run, sweep_run.parent / "report.html")
    text = path.read_text(encoding="utf-8")
    return text, BeautifulSoup(text, "html.parser")


def sections(soup) -> dict:
    """The elements under each h2, by heading text."""
    out, current = {}, None
    for element in soup.body.find_all(True):
        if element.name == "h2":
            current = element.get_text().strip().rstrip("¶").strip()
            out[current] = []
        elif current is not None:
            out[current].append(element)
    return out


def section_text(soup, name) -> str:
    text = " ".join(e.get_text(" ") for e in sections(soup)[name] if e.name in ("p", "li", "td", "th", "h3", "h4", "pre"))
    return " ".join(text.split())


def pngs(elements) -> list[bytes]:
    return [base64.b64decode(e["src"].split(",", 1)[1]) for e in elements if e.name == "img"]


def test_report_parses_and_has_every_section(page, sweep_run):
    text, soup = page
    assert soup.html is not None and soup.head is not None and soup.body is not None
    assert soup.title.get_text() == "flowalign_nb report: tiny_images, sweep"
    found = sections(soup)
    assert list(found) == SECTIONS
    table = pd.read_csv(sweep_run / "sweep.csv")
    summary = section_text(soup, "Summary")
    for needle in ("tiny_images", "synthetic / source (300 items x 16 neuroids)", "exemplar", "end_to_end", "ceiling",
                   "10.0%", "50.0%", "bridge", "none"):
        assert needle in summary, needle
    for method in ("exemplar", "end_to_end", "ceiling"):
        value = table.query("method == @method and fraction == 0.1")["value"].iloc[0]
        assert f"{value:.3f}" in summary
    flow, e2e = (table.query("method == @m and fraction == 0.5")["value"].iloc[0] for m in ("exemplar", "end_to_end"))
    assert f"at 50.0% labels, the best flow, exemplar, scores {flow:.3f} , {flow - e2e:+.3f} against end-to-end" in summary
    assert "the same as its sweep cell" in summary
    assert len(pngs(found["Training curves"])) == 1
    assert len(pngs(found["Coupling diagnostics"])) == 1
    assert re.search(r"\d+\.\d%\s+of the plan's mass pairs items of the same", section_text(soup, "Coupling diagnostics"))
    assert "The plan shown is the full plan pairs are drawn from, restricted to" in section_text(soup, "Coupling diagnostics")
    rsa_decoding = section_text(soup, "RSA and decoding before and after alignment")
    for needle in ("rsa", "decoding", "transfer_decoding", "class means", "ci_low", "ci_high", "before", "after"):
        assert needle in rsa_decoding, needle
    assert len(pngs(found["RSA and decoding before and after alignment"])) == 1
    assert len(pngs(found["Label-fraction figure"])) == 1
    assert len(pngs(found["Generated images"])) == 1
    provenance = section_text(soup, "Provenance")
    record = load_run(sweep_run).provenance
    assert record["files"]["run.json"] in provenance and record["files"]["fits/seed0_fraction0.1_exemplar/scores.csv"] in provenance
    assert record["started"] in provenance and "torch" in provenance
    assert (record["git"]["commit"] if record["git"] else "not a git checkout") in provenance


def test_a_plugin_analysis_is_a_section_of_the_report(page, sweep_run):
    _, soup = page
    other = section_text(soup, "Other analyses (plugins)")
    assert "mean_norm" in other and "Registered by plugin reportplugin: mean norm of the items" in other
    analyses = pd.read_csv(sweep_run / "fits" / "seed0_fraction0.1_exemplar" / "analyses.csv")
    after = analyses.query("analysis == 'mean_norm' and condition == 'after'")["value"].iloc[0]
    assert f"{after:.3f}" in other
    assert len(pngs(sections(soup)["Other analyses (plugins)"])) == 1


def test_report_is_self_contained(page):
    text, soup = page
    images = soup.find_all("img")
    assert len(images) >= 6
    for image in images:
        assert image["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(image["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for tag in soup.find_all(True):
        for attribute in ("src", "href", "srcset", "data", "action", "poster"):
            value = str(tag.get(attribute, "")).strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (tag.name, attribute, value)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", text, re.IGNORECASE)
    assert not soup.find_all("script", src=True) and not soup.find_all("link", href=re.compile("^(https?:)?//"))
    assert remote_references(text) == []
    assert remote_references('<script src="https://cdn.example/x.js">') != []  # the check itself can fail


def test_code_cells_are_hidden_by_default_and_kept_with_code(page, sweep_run, tmp_path):
    _, soup = page
    assert not soup.select(".jp-CodeCell .jp-InputArea") and "view.summary(run)" not in soup.get_text()
    assert main(["report", str(sweep_run), "-o", str(tmp_path / "code.html"), "--with-code"]) == 0
    with_code = BeautifulSoup((tmp_path / "code.html").read_text(encoding="utf-8"), "html.parser")
    assert with_code.select(".jp-CodeCell .jp-InputArea") and "view.summary(run)" in with_code.get_text()


def reproduce_commands(soup) -> list[str]:
    return [c.get_text().strip() for c in sections(soup)["How to reproduce"] if c.name == "pre"]


def test_the_printed_commands_reproduce_the_headline_scores(page, sweep_run, tmp_path, monkeypatch):
    _, soup = page
    commands = reproduce_commands(soup)
    sweep_command = next(c for c in commands if c.startswith("flowalign sweep"))
    fit_command = next(c for c in commands if c.startswith("flowalign fit"))
    assert fit_command.startswith("flowalign fit tiny_images --method exemplar --fraction 0.1 --seed 0")
    monkeypatch.chdir(tmp_path)
    for command, original, new in ((fit_command, sweep_run / "fits" / "seed0_fraction0.1_exemplar" / "scores.csv", "scores.csv"),
                                   (sweep_command, sweep_run / "sweep.csv", "sweep.csv")):
        argv = shlex.split(command)
        assert argv[0] == "flowalign" and main(argv[1:]) == 0
        output = argv[argv.index("--output") + 1]
        before, after = pd.read_csv(original), pd.read_csv(f"{output}/{new}")
        keys = ["method", "fraction", "seed", "metric"]
        merged = before.merge(after, on=keys, suffixes=("", "_again"))
        assert len(merged) == len(before) > 0
        np.testing.assert_array_equal(merged["value"], merged["value_again"])


def test_report_renders_in_headless_chromium(page, sweep_run, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium); the HTML checks above still ran")
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,1600",
                    (sweep_run.parent / "report.html").as_uri()], check=True, capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (1600, 1200)
    dark = pixels < 128
    assert dark.mean() > 0.01  # text and figures drawn, not a blank page
    assert dark[:400].any(axis=1).sum() > 20  # the title and summary at the top


def test_provenance_lists_the_project_packages_and_folds_the_others(page, sweep_run):
    _, soup = page
    packages = load_run(sweep_run).provenance["packages"]
    own = {name for name in packages if name.lower().replace("-", "_").startswith("flowalign")}
    assert "flowalign_nb" in own and len(packages) > len(own) + 10
    elements = sections(soup)["Provenance"]
    folded = [e for e in elements if e.name == "details"]
    assert len(folded) == 1 and f"{len(packages) - len(own)} other packages" in folded[0].summary.get_text()
    inside = {td.get_text().strip() for td in folded[0].find_all("td")}
    assert "torch" in inside and not own & inside
    visible = [t for t in elements if t.name == "table" and t.find_parent("details") is None]
    shown = {tr.find("td").get_text().strip() for t in visible for tr in t.find_all("tr") if tr.find("td")}
    assert own <= shown and "torch" not in shown


def test_reproduce_commands_are_plain_text_not_highlighted(page):
    _, soup = page
    blocks = [e for e in sections(soup)["How to reproduce"] if e.name == "pre"]
    assert len(blocks) == 3
    assert all(not b.find_all("span") for b in blocks), [str(b)[:200] for b in blocks]
