"""Hook implementations of the ``flowalign_text`` plugin, found through the ``flowalign_nb`` entry-point group.

The distribution is laid out and discovered by the core; its modality adapters for
sentence encoders (all-MiniLM-L6-v2)
arrive with their own issue and register here with ``@hookimpl def flowalign_register_modalities(registry)``.
"""
