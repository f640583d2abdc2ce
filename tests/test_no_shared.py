"""Nothing depends on ../shared: only loaders may default to it, and each honours FLOWALIGN_NO_SHARED.

``.ci/run`` runs the suite a second time in a fresh clone with no ``../shared`` beside it and
``FLOWALIGN_NO_SHARED=1``; this test keeps new code from growing a dependence that only that run would catch.
"""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SWITCH = "FLOWALIGN_NO_SHARED"
# a path built to the shared folder: Path(...) / "shared", "../shared/...", os.path.join(..., "shared")
SHARED_PATH = re.compile(r"""/\s*["']shared["']|["']\.\./shared\b|join\([^)]*["']shared["']""")
SKIPPED = {".git", ".venv", "runs", "__pycache__", "build", "dist"}


def project_files(*suffixes):
    for path in REPO.rglob("*"):
        if path.suffix in suffixes and path.is_file() and not SKIPPED & set(path.relative_to(REPO).parts):
            yield path


def test_only_loaders_build_paths_to_shared_and_they_honour_the_switch():
    offenders = []
    for path in project_files(".py", ".ipynb"):
        text = path.read_text(errors="replace")
        if not SHARED_PATH.search(text) or path == Path(__file__):
            continue
        relative = path.relative_to(REPO)
        is_loader = relative.parts[0] in {"flowalign_nb", "plugins"} and "tests" not in relative.parts
        if not is_loader or SWITCH not in text:
            offenders.append(f"{relative} ({'honours no ' + SWITCH if is_loader else 'is not a loader'})")
    assert not offenders, "paths to ../shared outside loaders honouring the switch: " + ", ".join(offenders)


def test_readme_and_docs_do_not_send_users_to_shared():
    for path in [REPO / "README.md", *REPO.glob("docs/*.md"), *REPO.glob("plugins/*/README.md")]:
        text = " ".join(path.read_text().split())
        assert "../shared" not in text and "shared folder" not in text, f"{path.relative_to(REPO)} points users to ../shared"
