"""Nothing depends on ../shared: the library and plugins never look there; one dev-only helper does.

``benchmarks/shared_data.py`` (used by the root ``conftest.py`` and the benchmarks) points the loaders'
environment variables at this workplace's copies, and honours FLOWALIGN_NO_SHARED.

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


HELPER = Path("benchmarks") / "shared_data.py"


def test_only_the_dev_helper_builds_paths_to_shared_and_it_honours_the_switch():
    builders = []
    for path in project_files(".py", ".ipynb"):
        if path != Path(__file__) and SHARED_PATH.search(path.read_text(errors="replace")):
            builders.append(path.relative_to(REPO))
    assert builders == [HELPER], f"paths to ../shared outside {HELPER}: {[str(b) for b in builders if b != HELPER]}"
    assert SWITCH in (REPO / HELPER).read_text()


def test_readme_and_docs_do_not_send_users_to_shared():
    for path in [REPO / "README.md", *REPO.glob("docs/*.md"), *REPO.glob("plugins/*/README.md")]:
        text = " ".join(path.read_text().split())
        assert "../shared" not in text and "shared folder" not in text, f"{path.relative_to(REPO)} points users to ../shared"
