"""Hook implementations of the ``flowalign_text`` plugin, found through the ``flowalign_nb`` entry-point group.

Registers the ``text`` modality (:class:`flowalign_text.encoder.TextEncoder`; ``model="minilm"``:
all-MiniLM-L6-v2, offline)::

    fa.represent("text", stimuli, model="minilm")
"""

from flowalign_nb import hookimpl

from .encoder import TextEncoder


@hookimpl
def flowalign_register_modalities(registry):
    registry.add("text", TextEncoder, description="sentence embeddings of the 'text' column (model='minilm': all-MiniLM-L6-v2, 384-d, offline)")
