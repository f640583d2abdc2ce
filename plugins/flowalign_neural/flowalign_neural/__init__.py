"""flowalign_nb plugin for biological neural recordings (brainio assemblies, Kriegeskorte 92-image IT, simulated populations)."""
