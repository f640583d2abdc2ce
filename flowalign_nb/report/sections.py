"""The content of each section of a run's report, as blocks the report notebook displays.

Every function takes a verified :class:`flowalign_nb.runs.folder.Run` and returns a list of blocks: a
``str`` (Markdown), a :class:`pandas.DataFrame` (a table), a :class:`Folded` table or a matplotlib figure. :func:`show`
displays them in a notebook (figures as embedded PNG). The report template
(``template.ipynb``) calls one function per section; nothing here recomputes a result: it
reads what the run folder recorded.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..tasks.task import parse_method
from ..runs.results import plot_sweep
from ..runs.plots import plan_source, plot_plan, plot_training
from ..analysis.plots import figure_png, plot_images

#: analyses shown in the "RSA and decoding" section; every other registered analysis gets its own section
RSA_AND_DECODING = ("rsa", "decoding", "transfer_decoding")
INTERVAL_COLUMNS = ["level", "condition", "metric", "value", "ci_low", "ci_high", "ci_level", "noise_ceiling_lower",
                    "noise_ceiling_upper", "chance", "note"]


@dataclass(frozen=True)
class Folded:
    """A table shown folded (an HTML ``<details>`` element): ``summary`` is the line a reader clicks to open it."""

    summary: str
    table: pd.DataFrame


def _html_table(table: pd.DataFrame) -> str:
    return table.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.3f}", escape=True)


def show(blocks: list) -> None:
    """Display blocks in a notebook: Markdown, HTML tables (escaped, 3 decimals), folded tables and PNG figures."""
    import matplotlib.pyplot as plt
    from IPython.display import HTML, Image, Markdown, display

    for block in blocks:
        if isinstance(block, str):
            display(Markdown(block))
        elif isinstance(block, pd.DataFrame):
            display(HTML(_html_table(block)))
        elif isinstance(block, Folded):
            display(HTML(f"<details><summary>{html.escape(block.summary)}</summary>{_html_table(block.table)}</details>"))
        else:
            display(Image(data=figure_png(block), metadata={"alt": _alt(block)}))
            plt.close(block)


def _alt(fig) -> str:
    """A figure's alternative text: its suptitle, else its first axes title."""
    titles = [fig.get_suptitle(), *(ax.get_title() for ax in fig.axes)]
    return next((t.replace("\n", " ") for t in titles if t), "figure")


def _fits(run) -> list:
    return run.fits if run.kind == "sweep" else [run]


def _fit_heading(fit, run) -> list:
    """A sub-heading naming the fit when a sweep holds several sections' worth of fits."""
    if run.kind != "sweep":
        return []
    c = fit.config
    return [f"### {_text(c['method'])}: {c['fraction']:.1%} labelled, seed {c['seed']}"]


def _no_fit(run) -> list:
    return [] if _fits(run) else ["This sweep kept no fit in detail (`save_sweep_run(..., fits=[...])` keeps some); "
                                  "the scores are in the summary and the label-fraction figure."]


def _text(value) -> str:
    """Text from a config or a plugin, safe to put in Markdown (HTML-escaped, no Markdown markup)."""
    return html.escape(str(value)).replace("*", "&#42;").replace("_", "&#95;").replace("[", "&#91;").replace("`", "&#96;")


def title(run) -> list:
    """The report's title."""
    c = run.config
    what = f"fit of {c['method']}" if run.kind == "fit" else f"sweep of {len(c['methods'])} methods"
    return [f"# flowalign_nb report: {_text(c['task'])}, {_text(what)}"]


def _modalities(config) -> str:
    return "; ".join(f"{side}: {_text(m['modality'])} / {_text(m['model'])} ({m['items']} items x {m['neuroids']} neuroids)"
                     for side, m in config["modalities"].items())


def _coupling_of(method: str) -> tuple[str, str]:
    spec = parse_method(method)
    return (spec.get("baseline", ""), "") if "baseline" in spec else (spec["coupling"], spec["bridge"] or "none")


def summary(run) -> list:
    """Task, modalities, coupling, bridge, label fraction and the headline scores against end_to_end and ceiling."""
    c, metric = run.config, run.config["metric"]
    scores = run.scores[run.scores["metric"] == metric]
    facts = [f"- **task**: {_text(c['task'])} {_text(c['task_options']) if c['task_options'] else ''}",
             f"- **modalities**: {_modalities(c)}",
             f"- **flow options**: {_text(c['flow_options'] or 'defaults')}",
             f"- **device**: {_text(run.provenance['device']['type'])} ({_text(run.provenance['device']['name'])})"]
    if run.kind == "fit":
        facts[2:2] = [f"- **method**: {_text(c['method'])}: coupling **{_text(c['coupling'])}**, bridge **{_text(c['bridge'] or 'none')}**",
                      f"- **label fraction**: {c['fraction']:.1%} (labelled items: {c['n_labelled']['source']} source, "
                      f"{c['n_labelled']['target']} target), seed {c['seed']}"]
        table = scores[["method", "value", "seconds"]].rename(columns={"value": metric})
        flow, e2e, ceiling = (scores.loc[scores["method"] == m, "value"].iloc[0] for m in (c["method"], "end_to_end", "ceiling"))
        verdict = (f"Headline ({_text(metric)}, held-out source items): **{flow:.3f}** for {_text(c['method'])}, "
                   f"{flow - e2e:+.3f} against end-to-end ({e2e:.3f}); the ceiling is {ceiling:.3f}.")
        return ["\n".join(facts), verdict, table]
    couplings = pd.DataFrame([(m, *_coupling_of(m)) for m in c["methods"]], columns=["method", "coupling (or baseline)", "bridge"])
    facts[2:2] = [f"- **label fractions**: {', '.join(f'{f:.1%}' for f in c['fractions'])}; seeds {c['seeds']}"]
    stats = scores.groupby(["method", "fraction"], sort=False)["value"].agg(["mean", "std"]).reset_index()
    several = len(c["seeds"]) > 1
    stats["cell"] = [f"{m:.3f} ± {s:.3f}" if several else f"{m:.3f}" for m, s in zip(stats["mean"], stats["std"])]
    table = stats.pivot(index="method", columns="fraction", values="cell").reindex(c["methods"]).reset_index()
    table.columns = ["method", *(f"{f:.1%}" for f in table.columns[1:])]
    blocks = ["\n".join(facts), f"Headline: {_text(metric)} on held-out source items, {'mean ± std over seeds' if several else 'one seed'}, "
              "by label fraction (columns); `end_to_end` is the source model trained on the same labels, "
              "`ceiling` the target model on its own items.", table, *_verdicts(stats), "Methods:", couplings]
    failed = run.scores[run.scores["error"].fillna("") != ""]
    if len(failed):
        blocks += [f"**{len(failed)} cell(s) failed** and are left out of the means:", failed[["method", "fraction", "seed", "error"]]]
    for fit in run.fits:
        f = fit.config
        mine = fit.scores[(fit.scores["metric"] == metric) & (fit.scores["method"] == f["method"])]["value"].iloc[0]
        cell = scores[(scores["method"] == f["method"]) & (scores["fraction"] == f["fraction"]) & (scores["seed"] == f["seed"])]["value"]
        same = "the same as" if len(cell) and np.isclose(cell.iloc[0], mine, rtol=0, atol=1e-12) else "NOT the same as"
        blocks.append(f"The detailed fit of {_text(f['method'])} at {f['fraction']:.1%}, seed {f['seed']}, scored {mine:.3f}, "
                      f"{same} its sweep cell ({cell.iloc[0] if len(cell) else float('nan'):.3f}).")
    return blocks


def _verdicts(stats: pd.DataFrame) -> list:
    """At each fraction: the best flow method against end_to_end and the ceiling (mean scores)."""
    flows = stats[["baseline" not in parse_method(m) for m in stats["method"]]]
    lines = []
    for fraction, part in flows.groupby("fraction", sort=True):
        best = part.loc[part["mean"].idxmax()]
        ref = stats[stats["fraction"] == fraction].set_index("method")["mean"]
        line = f"- at {fraction:.1%} labels, the best flow, {_text(best['method'])}, scores **{best['mean']:.3f}**"
        if "end_to_end" in ref:
            line += f", {best['mean'] - ref['end_to_end']:+.3f} against end-to-end ({ref['end_to_end']:.3f})"
        if "ceiling" in ref:
            line += f"; the ceiling is {ref['ceiling']:.3f}"
        lines.append(line + ".")
    return ["\n".join(lines)] if lines else []


def training(run) -> list:
    """The flow-matching loss per step of each fit."""
    blocks = _no_fit(run)
    for fit in _fits(run):
        loss = fit.results["loss"].values
        tail = loss[-max(1, len(loss) // 10):].mean()
        blocks += [*_fit_heading(fit, run), plot_training(loss, f"{fit.config['method']}: flow matching loss"),
                   f"{len(loss)} steps; loss {loss[0]:.3f} at the first step, {tail:.3f} over the last 10 %."]
    return blocks


def coupling(run) -> list:
    """The plan heatmap ordered by class and its same-class mass share."""
    blocks = _no_fit(run)
    for fit in _fits(run):
        plan = fit.results["plan"]
        share, chance = plan.attrs["same_class_share"], plan.attrs["chance_share"]
        blocks += [*_fit_heading(fit, run), plot_plan(plan, f"coupling {fit.config['coupling']}, bridge {fit.config['bridge'] or 'none'}"),
                   f"The plan shown is {plan_source(plan)}. "
                   f"**{share:.1%}** of the plan's mass pairs items of the same (ground-truth) class; pairing the same "
                   f"marginals independently would give {chance:.1%}. Only labelled items' classes were visible to the coupling."]
    return blocks


def _interval_table(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[[c for c in INTERVAL_COLUMNS if c in rows.columns and (c == "note" or rows[c].notna().any())]]


def analyses(run, names=RSA_AND_DECODING, exclude: bool = False) -> list:
    """Before/after rows of the named analyses (or, with ``exclude``, of every other one), with their CIs.

    Each analysis gets a heading with the plugin that registered it and its description, a table
    (value, confidence interval, noise ceiling, chance, and why a level did not apply) and a figure.
    """
    from ..analysis.plots import plot_comparison

    blocks = _no_fit(run)
    for fit in _fits(run):
        table = fit.analyses
        chosen = [n for n in pd.unique(table["analysis"]) if (n in names) != exclude]
        about = {a["name"]: a for a in fit.config["analyses"]}
        blocks += _fit_heading(fit, run)
        if not chosen:
            blocks.append("No other analysis is registered (plugins add them through `flowalign_register_analyses`).")
        heading = "###" if run.kind == "fit" else "####"
        for name in chosen:
            entry = about.get(name, {"plugin": "unknown", "description": ""})
            blocks += [f"{heading} {_text(name)}\n\nRegistered by plugin {_text(entry['plugin'])}: {_text(entry['description'])}. "
                       "*before*: the source items as they are; *after*: transported into the target space.",
                       _interval_table(table[table["analysis"] == name])]
        shown = table[table["analysis"].isin(chosen) & np.isfinite(table["value"].astype(float))]
        if not shown.empty:
            blocks.append(plot_comparison(shown.assign(analysis=shown["analysis"] + "\n" + shown["level"])))
    return blocks


def label_fraction(run) -> list:
    """Score against label fraction (sweeps)."""
    if run.kind != "sweep":
        c = run.config
        return [f"This run is a single fit at {c['fraction']:.1%} labels; a sweep's report shows the score against "
                f"the label fraction (`flowalign sweep {_text(c['task'])} --methods {_text(c['method'])} end_to_end ceiling`)."]
    return [plot_sweep(run.scores, metric) for metric in pd.unique(run.scores["metric"])]


def images(run) -> list:
    """The task's report images (generation tasks) of each fit."""
    blocks = []
    for fit in _fits(run):
        rows = [(fit.results[v].attrs["title"], fit.results[v].values) for v in sorted(fit.results.data_vars) if v.startswith("image_")]
        if rows:
            blocks += [*_fit_heading(fit, run), plot_images(rows)]
    return blocks or [f"Task {_text(run.config['task'])} provides no images: it is not a generation task "
                      "(a task shows images by defining `Task.report_images`)."]


def provenance(run) -> list:
    """Where, when and from what the run was made: facts, packages, inputs, representations, files."""
    p = run.provenance
    git = p["git"]
    facts = pd.DataFrame([
        ("command", p["command"]), ("started (UTC)", p["started"]), ("ended (UTC)", p["ended"]),
        ("device", f"{p['device']['type']} ({p['device']['name']}), {p['device']['torch_threads']} torch threads"),
        ("python", p["python"]), ("platform", p["platform"]),
        ("git commit", "not a git checkout" if git is None else f"{git['commit']}{' (uncommitted changes)' if git['dirty'] else ''}"),
        ("seeds", ", ".join(f"{k}: {v}" for k, v in p["seeds"].items())),
    ], columns=["", "value"])
    packages = pd.DataFrame(sorted(p["packages"].items()), columns=["package", "version"])
    own = packages["package"].map(_is_project_package)
    inputs = pd.DataFrame(p["inputs"], columns=["path", "bytes", "sha256"])
    representations = pd.DataFrame([{"representation": k, **v} for k, v in p["representations"].items()])
    files = pd.DataFrame(sorted(p["files"].items()), columns=["file", "sha256"])
    return [facts, "Packages of the project (flowalign_nb and its plugins):", packages[own],
            Folded(f"{int((~own).sum())} other packages (dependencies and other imported packages), with versions", packages[~own]),
            "Input files (read while the task loaded its data), SHA-256:" if len(inputs) else
            "Input files: none (the task generated its data in memory; its representations are recorded below).",
            *([inputs] if len(inputs) else []),
            "Representations used (SHA-256 of values, coords and attrs):", representations,
            "Files of this run, SHA-256 (checked when this report was made):", files]


def _is_project_package(name: str) -> bool:
    """flowalign_nb and the distributions that install flowalign_nb plugins (named ``flowalign...``, or with an entry point now)."""
    from importlib import metadata

    from ..plugins import ENTRY_POINT_GROUP

    plugins = {ep.dist.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.dist is not None}
    return name.lower().replace("-", "_").startswith("flowalign") or name in plugins


def reproduce(run, display_dir: str) -> list:
    """The exact commands that re-create the run and its fits, and the report (plain code blocks: no shell highlighting)."""
    device = run.provenance["device"]
    blocks = [f"Re-create this run into a new folder (same seeds; on the same device, {_text(device['type'])} with "
              f"{device['torch_threads']} torch thread(s), the scores are the same):",
              f"```\n{run.command(f'{display_dir}-reproduced')}\n```"]
    for fit in run.fits:
        name = fit.path.name
        blocks += [f"Re-create the detailed fit `{_text(name)}` alone:",
                   f"```\n{fit.command(f'{display_dir}-reproduced-{name}')}\n```"]
    blocks += ["Then make this report of the new folder and compare the headline scores:",
               f"```\nflowalign report {display_dir}-reproduced -o {display_dir}-reproduced.html\n```"]
    return blocks
