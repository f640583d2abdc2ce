"""Hook implementations of the ``flowalign_neural`` plugin, found through the ``flowalign_nb`` entry-point group.

The distribution is laid out and discovered by the core; its modality adapters for
biological neural recordings (brainio assemblies, Kriegeskorte 92-image IT, simulated populations)
arrive with their own issue and register here with ``@hookimpl def flowalign_register_modalities(registry)``.
"""
