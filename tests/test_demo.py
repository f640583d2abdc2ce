"""The demo's summary table (the demo itself runs the MNIST tasks: `make demo`)."""

import pandas as pd
import pytest

from flowalign_nb.cli import build_parser
from flowalign_nb.tasks.demo import DEMO_METHODS, DEMO_TASKS, demo_legend, demo_summary


def test_summary_keeps_method_and_metric_order():
    rows = [("ot+prototype", 0, "accuracy", 0.8, 10.0), ("ot+prototype", 0, "frechet", 200.0, 10.0),
            ("ot+prototype", 1, "accuracy", 0.9, 20.0), ("ot+prototype", 1, "frechet", 100.0, 20.0),
            ("end_to_end", 0, "accuracy", 1.0, 2.0), ("end_to_end", 0, "frechet", 900.0, 2.0)]
    table = pd.DataFrame(rows, columns=["method", "seed", "metric", "value", "seconds"])
    summary = demo_summary(table)
    assert list(summary.index) == ["ot+prototype", "end_to_end"]
    assert list(summary.columns) == ["accuracy", "frechet", "seconds"]
    assert summary.loc["ot+prototype", "accuracy"] == pytest.approx(0.85)
    assert summary.loc["ot+prototype", "frechet"] == pytest.approx(150.0)
    assert summary.loc["ot+prototype", "seconds"] == pytest.approx(15.0)


def test_demo_defaults_follow_the_issue():
    args = build_parser().parse_args(["demo"])
    assert args.fraction == 0.1 and args.threads == 1 and args.report and args.output == "runs/demo"
    assert not build_parser().parse_args(["demo", "--no-report"]).report
    assert DEMO_TASKS == ("mnist_effnet_to_cnn", "mnist_text_to_image")
    assert {"exemplar", "ot+prototype"} <= set(DEMO_METHODS)


def test_the_header_explains_only_the_metrics_a_task_has():
    recognition = pd.DataFrame({"method": ["exemplar"], "metric": ["accuracy"], "value": [0.9]})
    generation = pd.DataFrame({"method": ["exemplar"] * 2, "metric": ["accuracy", "frechet"], "value": [0.9, 200.0]})
    assert demo_legend(recognition) == "end_to_end: the source-side model trained on the labelled items only"
    assert demo_legend(generation) == "end_to_end: the source-side model trained on the labelled items only; frechet: lower is better"
