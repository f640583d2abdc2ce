"""Hook specifications of flowalign_nb: the public contract for plugins.

Every hook receives a :class:`~flowalign_nb.registry.Registry` for one kind and adds named factories
to it with ``registry.add(name, factory, description=...)``. A plugin is any module or object with
``@hookimpl``-decorated functions of these names; it is found through the ``flowalign_nb``
entry-point group::

    [project.entry-points.flowalign_nb]
    myplugin = "my_package.hooks"

Built-in couplings and bridges are registered through these same hooks (see
:mod:`flowalign_nb.transport.couplings` and :mod:`flowalign_nb.transport.bridges`), the way pytest and datasette use
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
    :mod:`flowalign_nb.data.model`). A recording modality returns its recorded stimuli and may ignore
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
    ``sample(batch_size, generator) -> (i_src, i_tgt)``; FlowAligner passes ``src`` and ``tgt`` as
    :class:`flowalign_nb.data.model.Latents`. Subclassing :class:`flowalign_nb.transport.couplings.Coupling` (override
    ``plan`` and ``sample``) also gives ``fit`` on representations and ``NotFittedError`` before
    ``fit`` (:class:`flowalign_nb.transport.boundary.FitBoundary`).

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
    spaces. See :class:`flowalign_nb.transport.bridges.Bridge`.

    Parameters
    ----------
    registry : flowalign_nb.registry.Registry
        The registry of kind ``"bridge"``.
    """


@hookspec
def flowalign_register_analyses(registry):
    """Register analyses that compare representations (RSA, decoding, predictivity, ...).

    An analysis factory is called as ``factory(**options)`` (keyword options with defaults, read
    from its signature by widgets and :func:`flowalign_nb.make`; check them here and raise
    ``ValueError`` naming a bad value) and returns a callable ``analysis(a, b) -> pandas.DataFrame``:

    - ``a``: the representation under study, an ``xarray.DataArray`` with dims
      ``("presentation", "neuroid")``: the source before alignment, the transported source after;
    - ``b``: the reference (the target space), a representation, or a list of them for analyses that
      use several: :func:`flowalign_nb.compare` passes ``subjects=`` as
      :class:`flowalign_nb.analysis.inputs.Subjects` and ``repetitions=`` as
      :class:`flowalign_nb.analysis.inputs.Repetitions` (both list subclasses), so an analysis can tell them apart;
    - the result: tidy rows, at least the columns ``metric`` (str) and ``value`` (float, higher
      means more alike or more accurate, unless a ``kind`` column says ``"distance"``), optionally ``ci_low``, ``ci_high``, ``ci_level``,
      ``noise_ceiling_lower``, ``noise_ceiling_upper`` and ``chance`` (drawn by the figures) and
      any descriptive columns;
    - an analysis that cannot run on a pair (for example they share no stimuli) raises
      :class:`flowalign_nb.analysis.inputs.NotApplicableError`; :func:`flowalign_nb.compare` then
      notes and skips it unless it was asked for by name.

    :func:`flowalign_nb.compare` runs every registered analysis on ``(source, target)`` and
    ``(moved, target)``. The built-ins (``rsa``, ``decoding``, ``transfer_decoding``,
    ``predictivity``) are registered the same way, in :mod:`flowalign_nb.analysis.hooks`.

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
