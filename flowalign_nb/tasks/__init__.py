"""The Task protocol, label-fraction sweeps (in process or on Dask) and their resumable cell store, built-in tasks, modality pairs, the demo."""
