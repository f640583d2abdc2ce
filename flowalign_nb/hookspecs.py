"""Hook specifications of flowalign_nb: the public contract for plugins.

Every hook receives a :class:`~flowalign_nb.registry.Registry` for one kind and adds named factories
to it with ``registry.add(name, factory, description=...)``. A plugin is any module or object with
``@hookimpl``-decorated functions of these names; it is found through the ``flowalign_nb``
entry-point group::

    [project.entry-points.flowalign_nb]
    myplugin = "my_package.hooks"

Built-in couplings and bridges are registered through these same hooks (see
:mod:`flowalign_nb.couplings` and :mod:`flowalign_nb.bridges`), the way pytest and datasette use
their own hooks.
"""

import pluggy

PROJECT_NAME = "flowalign_nb"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def flowalign_register_modalities(registry):
    """Register modality adapters.

    A modality factory is called as ``factory(**options)`` and returns an object with
    ``represent(stimuli) -> xarray.DataArray`` with dims ``("presentation", "neuroid")`` (see
    :mod:`flowalign_nb.data`). A recording modality returns its recorded stimuli and may ignore
    payload columns.

    Parameters
    ----------
    registry : flowalign_nb.registry.Registry
        The registry of kind ``"modality"``.
    """


@hookspec
def flowalign_register_couplings(registry):
    """Register coupling strategies (how source and target items are paired to train a flow).

    A coupling factory returns an object with ``fit(src, tgt, bridge=None) -> self``,
    ``plan(i_src, i_tgt) -> Tensor[len(i_src), len(i_tgt)]`` (mass summing to 1) and
    ``sample(batch_size, generator) -> (i_src, i_tgt)``; ``src`` and ``tgt`` are
    :class:`flowalign_nb.data.Latents`. See :class:`flowalign_nb.couplings.Coupling`.

    Parameters
    ----------
    registry : flowalign_nb.registry.Registry
        The registry of kind ``"coupling"``.
    """


@hookspec
def flowalign_register_bridges(registry):
    """Register inter-space bridge costs.

    A bridge factory returns an object with ``fit(src, tgt) -> self`` and
    ``cost(i_src, i_tgt) -> Tensor[len(i_src), len(i_tgt)]`` comparing items of two different
    spaces. See :class:`flowalign_nb.bridges.Bridge`.

    Parameters
    ----------
    registry : flowalign_nb.registry.Registry
        The registry of kind ``"bridge"``.
    """


@hookspec
def flowalign_register_analyses(registry):
    """Register analyses that compare representations (RSA, decoding, predictivity, ...).

    Parameters
    ----------
    registry : flowalign_nb.registry.Registry
        The registry of kind ``"analysis"``.
    """


@hookspec
def flowalign_register_tasks(registry):
    """Register tasks: a source modality, a target model, its downstream head or decoder and an
    end-to-end baseline, evaluated by :func:`flowalign_nb.sweep`.

    Parameters
    ----------
    registry : flowalign_nb.registry.Registry
        The registry of kind ``"task"``.
    """
