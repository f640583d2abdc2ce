"""Inter-space bridge costs, couplings (OT, entropic, unbalanced, Gromov-Wasserstein, exemplar), class-blocked solvers, resource bounds."""
