"""Wall time of a 12-cell sweep in-process vs on a 2-worker Dask LocalCluster on this machine.

Synthetic task (2,000 items per space), fractions {0.05, 0.2}, seeds {0, 1}, methods exemplar,
ot+prototype and ridge: 12 cells. Writes ``benchmarks/sweep_dask.json``.

    .venv/bin/python benchmarks/sweep_dask.py
"""

import json
import time
from pathlib import Path

from distributed import Client, LocalCluster

import flowalign_nb as fa

OPTIONS = dict(fractions=[0.05, 0.2], seeds=[0, 1], methods=["exemplar", "ot+prototype", "ridge"],
               flow_options={"steps": 400}, progress=False)


def main():
    start = time.perf_counter()
    local = fa.sweep("synthetic", **OPTIONS)
    in_process = time.perf_counter() - start
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        start = time.perf_counter()
        distributed = fa.sweep("synthetic", client=client, **OPTIONS)
        on_cluster = time.perf_counter() - start
    same = local.drop(columns="seconds").equals(distributed.drop(columns="seconds"))
    result = {"cells": len(local), "in_process_s": in_process, "local_cluster_2_workers_s": on_cluster,
              "ratio_in_process_over_cluster": in_process / on_cluster, "same_table": same}
    Path(__file__).with_suffix(".json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
