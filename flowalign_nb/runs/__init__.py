"""Run folders on disk: fitted runs and sweeps, provenance, results, run figures."""
