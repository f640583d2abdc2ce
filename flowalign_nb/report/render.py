"""Lab report of a run folder: a parameterised notebook run by papermill, exported by nbconvert.

``report(run_dir, path)`` first reads and verifies the run folder (:func:`flowalign_nb.runs.folder.load_run`,
so an old or changed folder fails here with a clear message), then executes the notebook template
shipped in the package (``template.ipynb``, its ``parameters`` cell given ``run_dir``) in a
Python kernel of this interpreter, and exports it with nbconvert's ``HTMLExporter`` (``lab``
template) to one self-contained HTML file: figures are embedded PNG data URIs, code cells are left
out unless ``with_code``, and the template's CDN scripts (require.js, MathJax, Mermaid, widgets)
are not emitted. A report that would still reference an http(s) resource is refused.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from importlib import resources
from pathlib import Path

from ..runs.folder import load_run
from ..safeio import _atomic_target, _replace

TEMPLATE = "template.ipynb"
#: the lab template without the blocks that load scripts from CDNs, and with figures' alt text
_SELF_CONTAINED = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block data_png scoped -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}" alt="{{ (output | get_metadata('alt', 'image/png') or 'figure') | escape_html }}">
</div>
{%- endblock data_png -%}
"""
_REMOTE = re.compile(r"""(?:\b(?:src|srcset|href|action|poster|data)\s*=\s*["']?\s*|\burl\(\s*["']?\s*|@import\s+["']?)(?:https?:)?//""",
                     re.IGNORECASE)


class ReportError(RuntimeError):
    """The report could not be made self-contained."""


def remote_references(text: str) -> list[str]:
    """Every ``src``/``href``/``url()``/``@import`` in ``text`` that points to an http(s) or protocol-relative URL."""
    return [text[m.start(): m.end() + 60] for m in _REMOTE.finditer(text)]


def _kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    class ThisPythonKernel(AsyncKernelManager):
        """A kernel of this interpreter (the one with this flowalign_nb), whatever 'python3' kernelspec is installed."""

        def format_kernel_cmd(self, extra_arguments=None):
            return [sys.executable, "-m", "ipykernel_launcher", "-f", os.path.realpath(self.connection_file),
                    "--log-level=ERROR", *(extra_arguments or [])]

    return ThisPythonKernel


def execute(run_dir, display_dir: str, timeout: int = 1200):
    """Run the report template on a run folder with papermill; return the executed notebook."""
    import papermill

    with tempfile.TemporaryDirectory(prefix="flowalign-report-") as tmp, \
            resources.as_file(resources.files("flowalign_nb.report") / TEMPLATE) as template:
        return papermill.execute_notebook(
            str(template), str(Path(tmp) / "report.ipynb"), kernel_name="python3", progress_bar=False, cwd=tmp,
            parameters={"run_dir": str(Path(run_dir).resolve()), "display_dir": display_dir},
            execution_timeout=timeout, start_timeout=300, kernel_manager_class=_kernel_manager_class(),
        )


def export_html(notebook, with_code: bool = False) -> str:
    """One self-contained HTML page of an executed notebook (code cells only ``with_code``).

    Raises
    ------
    ReportError
        If the page would reference an http(s) resource (e.g. a link in an analysis' output).
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", template_file="flowalign_report.html.j2",
                            extra_loaders=[DictLoader({"flowalign_report.html.j2": _SELF_CONTAINED})],
                            exclude_input=not with_code, exclude_input_prompt=not with_code,
                            exclude_output_prompt=True, embed_images=True)
    body, _ = exporter.from_notebook_node(notebook)
    remote = remote_references(body)
    if remote:
        raise ReportError(f"the report would load {len(remote)} remote resource(s), e.g. {remote[0]!r}; "
                          "a report must be self-contained")
    return body


def report(run_dir, path="report.html", *, with_code: bool = False, timeout: int = 1200) -> Path:
    """Write the HTML report of a run folder (a fit or a sweep).

    Sections: summary (task, modalities, coupling, bridge, label fraction, headline scores against
    end_to_end and ceiling), training curves, coupling diagnostics, RSA and decoding before/after
    with confidence intervals, other (plugin) analyses, the label-fraction figure (sweeps),
    generated images (generation tasks), provenance, and how to reproduce.

    Parameters
    ----------
    run_dir : path
        A run folder (``flowalign fit``, a sweep run, ``flowalign demo``).
    path : path
        The HTML file to write (atomically).
    with_code : bool
        Keep the notebook's code cells.
    timeout : int
        Seconds each notebook cell may run.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    flowalign_nb.runs.folder.RunFolderError
        For a run folder of an older format, incomplete or changed since it was written (before
        any notebook runs).
    papermill.PapermillExecutionError
        When a section fails, with the cell's error.
    ReportError
        If the page would not be self-contained.
    """
    run = load_run(run_dir)
    notebook = execute(run.path, str(run_dir) if Path(run_dir).name else str(run.path.resolve()), timeout)
    c = run.config
    notebook.metadata["title"] = f"flowalign_nb report: {c['task']}, {c['method'] if run.kind == 'fit' else 'sweep'}"
    page = export_html(notebook, with_code)
    path = Path(path)
    tmp = _atomic_target(path)
    tmp.write_text(page, encoding="utf-8")
    tmp.chmod(0o644)  # a page to share, not a private temporary file
    _replace(tmp, path)
    return path
