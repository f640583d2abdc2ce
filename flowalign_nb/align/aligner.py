"""FlowAligner: learn a conditional flow from a source latent space to a target latent space.

``FlowAligner(coupling="ot", bridge="auto", ...).fit(source, target)`` standardises both spaces,
pairs items with a coupling (optionally on a bridge cost), trains a velocity field with conditional
flow matching and ``transform(source)`` integrates it to return a representation in the target space.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..data.model import DIMS, Latents, RepresentationError, standardise_pair, validate
from ..flow import FlowTrainer, VelocityField, integrate
from .linear_start import INITS, linear_start
from ..devices import resolve_device
from ..plugins import get_registry, make
from ..safeio import SavedFileError, atomic_folder, read_json, read_tensors, recover_folder, write_json, write_tensors

DIM_HANDLING = ("pad", "conditional")

# What ``bridge="auto"`` gives a coupling that compares items of the two spaces (``needs_bridge``):
# per-class posterior probes, the bridge of the measured default (``benchmarks/linear_start.py``).
AUTO_BRIDGE = "posterior"
ALIGNER_FORMAT, ALIGNER_VERSION = "flowalign_nb.aligner", 1
ALIGNER_FILES = ("aligner.json", "weights.safetensors")


class BaseAligner(BaseEstimator):
    """Shared parts of aligners: per-space standardisation and target-space outputs.

    Each space is z-scored with its own feature means and standard deviations (computed from all of
    its items; no labels are involved). The ``classes`` parameter of a subclass (``"all"`` or
    ``"shared"``, see :func:`flowalign_nb.data.model.check_pair`; ``"all"`` when a subclass has none) says
    what happens to a class labelled in one space only.
    """

    def _fit_spaces(self, source: xr.DataArray, target: xr.DataArray, need_labels: bool) -> tuple[Latents, Latents]:
        source, target = _in_memory(source, self), _in_memory(target, self)
        src, tgt, standardisation = standardise_pair(source, target, need_labels=need_labels,
                                                     classes=getattr(self, "classes", "all"))
        self.classes_ = standardisation.classes
        self.n_features_in_, self.n_features_out_ = source.sizes["neuroid"], target.sizes["neuroid"]
        self.source_mean_, self.source_scale_ = standardisation.source.mean, standardisation.source.scale
        self.target_mean_, self.target_scale_ = standardisation.target.mean, standardisation.target.scale
        self.target_neuroid_coords_ = {
            name: coord.values.tolist() for name, coord in target.coords.items() if coord.dims == ("neuroid",)
        }
        self.target_attrs_ = _jsonable(target.attrs)
        self.source_attrs_ = _jsonable(source.attrs)
        return src, tgt

    def _standardised_source(self, source: xr.DataArray) -> np.ndarray:
        check_fitted(self, "n_features_in_")
        source = _in_memory(source, self)
        validate(source)
        if source.sizes["neuroid"] != self.n_features_in_:
            raise RepresentationError(
                f"source has {source.sizes['neuroid']} neuroids; this aligner was fit on {self.n_features_in_}"
            )
        return (source.values - self.source_mean_) / self.source_scale_

    def _in_target_space(self, standardised: np.ndarray, source: xr.DataArray) -> xr.DataArray:
        """Un-standardise target-space values and label them with the source's presentations."""
        values = standardised * self.target_scale_ + self.target_mean_
        coords = {name: c for name, c in source.coords.items() if c.dims == ("presentation",)}
        coords.update({name: ("neuroid", np.asarray(v)) for name, v in self.target_neuroid_coords_.items()})
        attrs = dict(self.target_attrs_)
        attrs.update(aligned_from=json.dumps(_jsonable(source.attrs)), aligner=type(self).__name__)
        return xr.DataArray(values.astype(np.float32), dims=DIMS, coords=coords, attrs=attrs)


def _in_memory(rep, aligner) -> xr.DataArray:
    """``rep`` with its values in memory: a lazy (dask-backed, e.g. chunked) representation is computed once."""
    if not isinstance(rep, xr.DataArray) or rep.chunks is None:
        return rep
    from ..data.chunked import compute_representation

    return compute_representation(rep, progress=bool(getattr(aligner, "progress", False)))


def check_fitted(estimator, attribute: str) -> None:
    """Raise scikit-learn's ``NotFittedError`` naming the estimator when ``attribute`` is not set yet."""
    check_is_fitted(estimator, attribute, msg=f"this {type(estimator).__name__} is not fitted yet; call fit(source, target) first")


def _jsonable(attrs: dict) -> dict:
    out = {}
    for key, value in attrs.items():
        try:
            json.dumps(value)
        except TypeError:
            value = str(value)
        out[str(key)] = value
    return out


class FlowAligner(BaseAligner):
    """Align a source space to a target space with a conditional flow (scikit-learn conventions).

    Parameters
    ----------
    coupling : str or Coupling
        Registered coupling name (``ot``, ``exemplar``, ``sinkhorn``, ``unbalanced``, ``gw``,
        ``independent``, or a plugin's) or an unfitted coupling object. The default, exact OT on
        the ``posterior`` bridge (paper setting 1, semi-supervised: unlabelled items are
        transported too, their labels never read), was the most accurate of the flows and at least
        the best linear map on every pair measured, linear and nonlinear (``benchmarks/linear_start.py``:
        on scikit-learn digits with 5 % labels 0.757 against ridge 0.696 and ``exemplar`` 0.351;
        both MNIST tasks at 10 %). ``exemplar`` (paper setting 2) needs no plan and uses the
        labelled items only: the memory-efficient choice.
    bridge : {"auto"}, str, Bridge or None
        Bridge cost for the couplings that need one (``prototype``, ``posterior``, ``linear``,
        ``euclidean``, or a plugin's). ``"auto"``: ``posterior`` for a coupling that needs a
        bridge, none for one that does not (``exemplar``, ``gw``, ``independent``).
    steps : int
        Training steps.
    batch_size : int
        Pairs per training step. A coupling that solves minibatch plans solves them among
        ``batch_size`` items per side unless its own ``plan_size`` is set.
    seed : int
        Seeds network initialisation, pair sampling, path noise and (``conditional``) transport noise.
    device : str, torch.device or None
        ``None``: CUDA when present, else CPU. Same seed and device give the same result.
    coupling_options, bridge_options : dict or None
        Keyword options of the coupling / bridge factory (e.g. ``{"reg": 0.05}``).
    dim_handling : {"pad", "conditional"}
        How spaces of different dimension meet. ``"pad"`` (default): both standardised spaces are
        zero-padded to ``d = max(d_src, d_tgt)`` and the flow transports the source point itself,
        ``x0 = pad(x)``, ``x1 = pad(y)``, with the velocity also conditioned on the source point,
        ``v(t, x_t | x)``; the first ``d_tgt`` coordinates of ``x(1)`` are read out. It is the default
        because ``transform`` is then a deterministic map of each source item (one output per input,
        as a scikit-learn transformer should be) along straight OT-CFM paths, and it was the more
        accurate of the two on the synthetic benchmark (``benchmarks/dim_handling.py``). The
        condition matters with few labels: the flow then need not recognise a held-out item's
        class from ``x_t`` alone.
        ``"conditional"`` (GENOT-style): the flow starts from noise in the target space,
        ``x0 ~ N(0, I_{d_tgt})``, conditioned on the source point, ``v(t, z | x)``; it suits
        one-to-many couplings and spaces of very different dimension, and its output is a sample
        (seeded by ``seed``).
    condition : {"auto", True, False}
        Whether the velocity (``dim_handling="pad"``) also sees the source point, ``v(t, x_t | x)``.
        ``"auto"``: when the coupling or bridge uses labels and the source has at most
        ``CONDITION_AUTO_MAX_WIDTH_RATIO`` (4) times as many coordinates as the target. The
        condition helps with few labels (a held-out item's class need not be recognised from ``x_t``
        alone), but with a label-free plan that pairs one source item with several targets
        (``independent``, ``sinkhorn``) it makes the learnt path head for the mean of a source
        item's partners, ``E[x1 | x0]``, and the output collapses towards it
        (``benchmarks/cfm_2d.py``). The width rule is measured, not derived: conditioning raised
        transfer accuracy at source/target width ratios 0.67 (synthetic, 16 -> 24: ``exemplar``
        0.80 -> 0.98) and 1.6 (digits, 64 -> 40: default 0.71 -> 0.76), left it unchanged at 0.44
        (MNIST EffNet -> CNN, 112 -> 256) and lowered it at 12 (MNIST captions -> image latents,
        384 -> 32: ``exemplar`` 0.96 -> 0.81, default 0.98 -> 0.95), where a wide source lets
        the field tell the labelled items apart by features that do not carry the class
        (caption templates and styles); ``benchmarks/condition_rule.md``. ``"conditional"``
        always conditions.
    init : {None, "ridge", "procrustes"}
        Linear start (``dim_handling="pad"``; needs labels): the flow transports ``x0 = x W + b``,
        a ridge or Procrustes map fit on the labelled items (:mod:`flowalign_nb.align.linear_start`), so
        an untrained flow is the linear map and training refines it.
        The default is none, from measurements (``benchmarks/linear_start.py``): the default coupling
        already beats the linear maps without it, and a linear start moved it by less than its seed
        spread; it lifts ``exemplar`` on digits (0.351 -> 0.656) but not to the ridge map's 0.696,
        and lowers it on the synthetic pairs.
    sigma : float
        Width of the CFM path, ``x_t = (1 - t) x0 + t x1 + sigma eps``.
    hidden, depth, time_dim : int
        Velocity field width, hidden layers and time-embedding size.
    fourier : {"auto"} or int
        Fourier features of the flow state, frequencies per coordinate
        (:class:`~flowalign_nb.flow.net.FourierFeatures`; 0: none). ``"auto"``: 8 when the flow state
        has at most 8 coordinates, else none. The rule: in low dimensions a density's detail can be
        far finer than its spread, which an MLP on raw coordinates blurs (on TorchCFM's 2-D tasks W2
        halved with them, ``benchmarks/cfm_2d.py``); for wide latents the features would multiply
        the input width by ``2 * 8 + 1`` and were not measured to help, so they stay off there.
    lr : {"auto"} or float
        AdamW's peak learning rate, cosine-decayed to 1 %. ``"auto"``: ``1e-3 * clip(256 / hidden, 1, 4)``
        (:func:`resolve_lr`), i.e. 1e-3 for the default width and wider, up to 4e-3 for ``hidden <= 64``.
        The rule: Adam's step should shrink as the layers widen (a hidden unit sums ``hidden`` updated
        weights; muP scales it as ``1 / hidden``). 1e-3 is measured at width 256 (the MNIST sweeps);
        at width 64 on TorchCFM's 2-D tasks 1e-3 left the flow undertrained: at 4e-3 W2 fell on every
        task (N(0, I) -> 8 Gaussians: ``independent`` 0.730 -> 0.596, ``ot`` 0.656 -> 0.595;
        ``benchmarks/cfm_2d.md``), and 3e-3 / 5e-3 gave about the same. Wider layers keep 1e-3 (3e-3
        at width 256 moved the MNIST cells within their seed spread, both ways).
    weight_decay, ema_decay, grad_clip : float
        AdamW weight decay, EMA decay, gradient-norm clip.
    ode_method : str
        torchdiffeq method for transport; ``ode_steps`` steps for fixed-step methods.
    ode_steps : int
    checkpoint_dir : path or None
        Where training checkpoints go every ``checkpoint_every`` steps (``fit(..., resume=True)``
        continues from them).
    checkpoint_every : int
    progress : bool
        tqdm.auto progress bar during training.
    prefetch : {"auto"} or bool or int
        Draw batches (their coupling plans included) in background threads while the network
        trains; same pairs and result as without (see :class:`FlowTrainer`). ``"auto"``: when the
        coupling solves a plan per minibatch and torch runs on fewer threads than there are CPU
        cores (e.g. ``OMP_NUM_THREADS=1``, the Makefile's default), as many draws in flight as
        there are cores available to this process (at most 4), else none (with torch on every core,
        prefetch cost 12 % in ``make bench``'s loop); ``True``: one; an integer: that many.
    classes : {"all", "shared"}
        ``"all"`` (default): a class labelled in one space and not in the other stops the fit with
        an error. ``"shared"``: align on the classes labelled in both; the items labelled with
        another class are treated as unlabelled, and a warning names those classes.

    Attributes
    ----------
    net_ : VelocityField
        The EMA weights used for transport.
    coupling_, bridge_ : the fitted coupling and bridge.
    classes_ : list
        Classes labelled in both spaces: the classes the fit used.
    fourier_ : int
        Fourier frequencies per coordinate the velocity field uses (``fourier`` resolved).
    lr_ : float
        AdamW's peak learning rate (``lr`` resolved).
    history_ : numpy.ndarray, shape (steps,)
        Training loss per step.
    """

    def __init__(self, coupling="ot", bridge="auto", steps=2000, batch_size=256, seed=0, device=None, *,
                 coupling_options=None, bridge_options=None, dim_handling="pad", condition="auto", init=None, sigma=0.1,
                 hidden=256, depth=3, time_dim=64, fourier="auto", lr="auto", weight_decay=1e-5, ema_decay=0.995, grad_clip=1.0,
                 ode_method="midpoint", ode_steps=20, checkpoint_dir=None, checkpoint_every=500, progress=True,
                 prefetch="auto", classes="all"):
        self.coupling = coupling
        self.bridge = bridge
        self.steps = steps
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.coupling_options = coupling_options
        self.bridge_options = bridge_options
        self.dim_handling = dim_handling
        self.condition = condition
        self.init = init
        self.sigma = sigma
        self.hidden = hidden
        self.depth = depth
        self.time_dim = time_dim
        self.fourier = fourier
        self.lr = lr
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.grad_clip = grad_clip
        self.ode_method = ode_method
        self.ode_steps = ode_steps
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.progress = progress
        self.prefetch = prefetch
        self.classes = classes

    # -- fitting -------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.dim_handling not in DIM_HANDLING:
            raise ValueError(f"dim_handling={self.dim_handling!r} is not allowed; choose one of {DIM_HANDLING}")
        for name in ("steps", "batch_size", "hidden", "depth", "ode_steps", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}={value!r} is not allowed; it must be a positive integer")
        if self.condition not in ("auto", True, False):
            raise ValueError(f"condition={self.condition!r} is not allowed; choose 'auto', True or False")
        if self.init is not None and self.init not in INITS:
            raise ValueError(f"init={self.init!r} is not allowed; choose None or one of {INITS}")
        if self.init is not None and self.dim_handling != "pad":
            raise ValueError(f"init={self.init!r} needs dim_handling='pad' (the flow transports the mapped source point)")
        if not (self.prefetch == "auto" or isinstance(self.prefetch, (bool, int, np.integer)) and self.prefetch >= 0):
            raise ValueError(f"prefetch={self.prefetch!r} is not allowed; use 'auto', True/False or a number of draws in flight >= 0")
        if not (self.fourier == "auto" or isinstance(self.fourier, (int, np.integer)) and not isinstance(self.fourier, bool)
                and self.fourier >= 0):
            raise ValueError(f"fourier={self.fourier!r} is not allowed; use 'auto' or a number of frequencies per coordinate >= 0")
        if not self.sigma >= 0:
            raise ValueError(f"sigma={self.sigma!r} is not allowed; it must be >= 0")
        if not (self.lr == "auto" or isinstance(self.lr, (int, float, np.floating)) and not isinstance(self.lr, bool) and self.lr > 0):
            raise ValueError(f"lr={self.lr!r} is not allowed; use 'auto' or a learning rate > 0")
        for kind, value in (("coupling", self.coupling), ("bridge", self.bridge)):
            if isinstance(value, str) and not (kind == "bridge" and value == "auto"):
                get_registry(kind).get(value)  # unknown names fail listing the known ones

    def _build(self, kind: str, spec, options):
        if isinstance(spec, str):
            return make(kind, spec, **(options or {}))
        if options:
            raise ValueError(f"{kind}_options are only used when {kind} is given by name, got an object {spec!r}")
        return spec

    def fit(self, source: xr.DataArray, target: xr.DataArray, resume: bool = False, should_stop=None) -> "FlowAligner":
        """Learn the flow from ``source`` to ``target``.

        Only labels of items with ``is_labelled`` True are used.

        Parameters
        ----------
        source : DataArray, (n_src, d_src)
        target : DataArray, (n_tgt, d_tgt)
        resume : bool
            Continue from the checkpoint in ``checkpoint_dir`` when there is one. A checkpoint of
            other data (standardised values, label mask or known labels of either space) or other
            training options is refused with a :class:`~flowalign_nb.safeio.SavedFileError` naming
            what differs.
        should_stop : callable or None
            Called after every training step as ``should_stop(step, loss)``; returning True stops
            training with KeyboardInterrupt, keeping the last checkpoint (see :class:`FlowTrainer`).

        Returns
        -------
        self
        """
        self._check_params()
        coupling = self._build("coupling", self.coupling, self.coupling_options)
        bridge = resolve_bridge(self.bridge, coupling)
        bridge = None if bridge is None else self._build("bridge", bridge, self.bridge_options)
        if bridge is None and self.bridge_options:
            raise ValueError(f"bridge_options={self.bridge_options!r} are given but coupling {self.coupling!r} uses no bridge "
                             f"(bridge={self.bridge!r})")
        labels_used = getattr(coupling, "needs_labels", False) or (bridge is not None and getattr(bridge, "needs_labels", True))
        src, tgt = self._fit_spaces(source, target, need_labels=labels_used or self.init is not None)
        self.bridge_ = None if bridge is None else bridge.fit(src, tgt)
        self.coupling_ = coupling.fit(src, tgt, bridge=self.bridge_)

        device = resolve_device(self.device)
        pad = self.dim_handling == "pad"
        self.conditioned_ = not pad or (resolve_condition(labels_used, src.dim, tgt.dim) if self.condition == "auto"
                                         else bool(self.condition))
        if self.init is not None:
            self.init_weight_, self.init_bias_ = linear_start(self.init, src, tgt)
        start = src.x if self.init is None else src.x @ self.init_weight_ + self.init_bias_
        self.net_dim_ = max(start.shape[1], tgt.dim) if pad else tgt.dim
        cond_dim = src.dim if self.conditioned_ else 0
        self.fourier_ = resolve_fourier(self.fourier, self.net_dim_)
        self.lr_ = resolve_lr(self.lr, self.hidden)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = VelocityField(self.net_dim_, cond_dim, self.hidden, self.depth, self.time_dim, self.fourier_)
        cond, xt = src.x.to(device), tgt.x.to(device)
        xs = _pad(start.to(device), self.net_dim_) if pad else None
        xt = _pad(xt, self.net_dim_) if pad else xt

        def draw_batch(generator):
            i_src, i_tgt = self.coupling_.sample(self.batch_size, generator)
            i_src, i_tgt = i_src.to(device), i_tgt.to(device)
            c = cond[i_src] if self.conditioned_ else None
            if pad:
                return xs[i_src], xt[i_tgt], c
            noise = torch.randn(self.batch_size, tgt.dim, generator=generator).to(device)
            return noise, xt[i_tgt], c

        trainer = FlowTrainer(
            net, self.steps, lr=self.lr_, weight_decay=self.weight_decay, ema_decay=self.ema_decay,
            grad_clip=self.grad_clip, sigma=self.sigma, seed=self.seed, device=device,
            checkpoint_dir=self.checkpoint_dir, checkpoint_every=self.checkpoint_every, progress=self.progress,
            fingerprint=self._fingerprint(src, tgt), prefetch=self._prefetch_workers(),
        ).run(draw_batch, resume=resume, should_stop=should_stop)
        self.net_ = trainer.ema.module.eval()
        self.history_ = trainer.losses.numpy().copy()
        self.device_ = device
        return self

    def _prefetch_workers(self) -> int:
        """Draws in flight (see ``prefetch``): ``"auto"`` uses the available cores for minibatch plans."""
        if self.prefetch != "auto":
            return int(self.prefetch)
        per_minibatch = getattr(self.coupling_, "full_plan_", "none") is None  # a plan coupling without a full plan
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        idle = torch.get_num_threads() < cores  # torch leaves cores to the plan threads
        return min(cores, 4) if per_minibatch and idle else 0

    def _fingerprint(self, src: Latents, tgt: Latents) -> dict:
        """What a checkpoint must match to be resumed: every option that changes training, and the data.

        A flat dict, so a refused resume names what differs: each parameter (``checkpoint_dir``,
        ``checkpoint_every``, ``progress``, ``device`` and ``prefetch`` excluded: they do not change
        what is trained), the options of ``coupling_options`` / ``bridge_options`` as
        ``coupling_options.<name>``, a coupling or bridge given as an object as its class and
        constructor parameters (``coupling.<name>``), and SHA-256 digests of each space's
        standardised values (``source values``; shape included), label mask (``source label mask``)
        and known labels (``source known labels``: ``-1`` for hidden ones, so hidden labels never
        matter), with the classes.
        """
        skip = ("checkpoint_dir", "checkpoint_every", "progress", "device", "prefetch")
        out = {}
        for name, value in self.get_params().items():
            if name not in skip:
                out.update(_flat(name, _described(value)))
        for role, lat in (("source", src), ("target", tgt)):
            out[f"{role} values"] = _digest(lat.x, str(tuple(lat.x.shape)))
            out[f"{role} label mask"] = _digest(lat.labels >= 0)
            out[f"{role} known labels"] = _digest(lat.labels)
        out["classes"] = _jsonable({"c": list(self.classes_)})["c"]
        return out

    # -- transport -----------------------------------------------------------------------------
    def transform(self, source: xr.DataArray) -> xr.DataArray:
        """Transport source items into the target space.

        Parameters
        ----------
        source : DataArray, (n, d_src)

        Returns
        -------
        DataArray, (n, d_tgt)
            Target-space values with the source's presentation coords and the target's neuroid coords.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit` has finished.
        """
        check_fitted(self, "net_")
        x = torch.as_tensor(self._standardised_source(source), dtype=torch.float32, device=self.device_)
        cond = x if getattr(self, "conditioned_", True) else None
        if self.dim_handling == "pad":
            start = x if self.init is None else x @ self.init_weight_.to(x.device) + self.init_bias_.to(x.device)
            moved = integrate(self.net_, _pad(start, self.net_dim_), cond, self.ode_method, self.ode_steps)[:, : self.n_features_out_]
        else:
            generator = torch.Generator().manual_seed(self.seed + 2)
            noise = torch.randn(x.shape[0], self.n_features_out_, generator=generator).to(self.device_)
            moved = integrate(self.net_, noise, cond, self.ode_method, self.ode_steps)
        return self._in_target_space(moved.cpu().numpy().astype(np.float64), source)

    def fit_transform(self, source, target, **fit_options):
        return self.fit(source, target, **fit_options).transform(source)

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Save to the folder ``path``: ``aligner.json`` (parameters, classes, coords) and
        ``weights.safetensors`` (flow weights, scalers, loss history). No pickle.

        Returns
        -------
        pathlib.Path
        """
        check_fitted(self, "net_")
        params = self.get_params()
        for kind in ("coupling", "bridge"):
            if params[kind] is not None and not isinstance(params[kind], str):
                raise ValueError(f"save needs {kind} given by name, got an object {params[kind]!r}")
        params["checkpoint_dir"] = None if params["checkpoint_dir"] is None else str(params["checkpoint_dir"])
        path = Path(path)
        tensors = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        for name in ("source_mean_", "source_scale_", "target_mean_", "target_scale_", "history_") + self._init_names():
            tensors[name] = torch.as_tensor(np.asarray(getattr(self, name)))
        header = {"format": ALIGNER_FORMAT, "version": ALIGNER_VERSION}
        with atomic_folder(path, ALIGNER_FILES) as tmp:
            write_tensors(tmp / "weights.safetensors", tensors, header)
            write_json(tmp / "aligner.json", {
                **header, "params": params, "classes": _jsonable({"c": list(self.classes_)})["c"],
                "net_dim": self.net_dim_, "conditioned": self.conditioned_, "fourier": self.fourier_, "n_features_in": self.n_features_in_, "n_features_out": self.n_features_out_,
                "target_neuroid_coords": self.target_neuroid_coords_, "target_attrs": self.target_attrs_,
                "source_attrs": self.source_attrs_,
            })
        return path

    @classmethod
    def load(cls, path, device=None) -> "FlowAligner":
        """Load an aligner saved by :meth:`save` (transport only; the coupling is not restored)."""
        path = recover_folder(path)
        info = read_json(path / "aligner.json", ALIGNER_FORMAT, ALIGNER_VERSION)
        tensors, _ = read_tensors(path / "weights.safetensors", ALIGNER_FORMAT, ALIGNER_VERSION)
        try:
            self = cls(**info["params"])
            self.classes_ = info["classes"]
            self.net_dim_, self.n_features_in_, self.n_features_out_ = info["net_dim"], info["n_features_in"], info["n_features_out"]
            self.target_neuroid_coords_, self.target_attrs_ = info["target_neuroid_coords"], info["target_attrs"]
            self.source_attrs_ = info["source_attrs"]
            for name in ("source_mean_", "source_scale_", "target_mean_", "target_scale_", "history_"):
                setattr(self, name, tensors[name].numpy())
            for name in self._init_names():
                setattr(self, name, tensors[name])
            self.conditioned_ = info.get("conditioned", True)  # aligners saved before the option were conditioned
            cond_dim = self.n_features_in_ if self.conditioned_ else 0
            self.device_ = resolve_device(device if device is not None else self.device)
            self.fourier_ = info.get("fourier", 0)  # aligners saved before the option had none
            net = VelocityField(self.net_dim_, cond_dim, self.hidden, self.depth, self.time_dim, self.fourier_)
            net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        except (KeyError, TypeError, RuntimeError) as exc:
            raise SavedFileError(f"{path}: saved aligner is incomplete or inconsistent ({exc})") from None
        self.net_ = net.to(self.device_).eval()
        return self


    def _init_names(self) -> tuple[str, ...]:
        return () if self.init is None else ("init_weight_", "init_bias_")


FOURIER_AUTO_MAX_DIM, FOURIER_AUTO_FREQUENCIES = 8, 8
CONDITION_AUTO_MAX_WIDTH_RATIO = 4
#: lr="auto": the learning rate at width LR_AUTO_WIDTH and wider, raised as 1 / hidden up to LR_AUTO_MAX_FACTOR x
LR_AUTO, LR_AUTO_WIDTH, LR_AUTO_MAX_FACTOR = 1e-3, 256, 4.0


def resolve_condition(labels_used: bool, source_dim: int, target_dim: int) -> bool:
    """``condition="auto"`` (``dim_handling="pad"``): condition on the source point when labels are used
    and ``source_dim <= CONDITION_AUTO_MAX_WIDTH_RATIO * target_dim`` (see FlowAligner)."""
    return bool(labels_used) and source_dim <= CONDITION_AUTO_MAX_WIDTH_RATIO * target_dim


def resolve_bridge(bridge, coupling):
    """The bridge a fit uses: ``"auto"`` is :data:`AUTO_BRIDGE` for a coupling that needs one, else none."""
    if isinstance(bridge, str) and bridge == "auto":
        return AUTO_BRIDGE if getattr(coupling, "needs_bridge", False) else None
    return bridge


def resolve_fourier(fourier, state_dim: int) -> int:
    """Frequencies per coordinate of the flow state's Fourier features (``fourier="auto"``: see FlowAligner)."""
    if fourier == "auto":
        return FOURIER_AUTO_FREQUENCIES if state_dim <= FOURIER_AUTO_MAX_DIM else 0
    return int(fourier)


def resolve_lr(lr, hidden: int) -> float:
    """AdamW's peak learning rate: ``lr="auto"`` is ``LR_AUTO * clip(LR_AUTO_WIDTH / hidden, 1, LR_AUTO_MAX_FACTOR)``."""
    if lr == "auto":
        return LR_AUTO * min(max(LR_AUTO_WIDTH / hidden, 1.0), LR_AUTO_MAX_FACTOR)
    return float(lr)


def _digest(tensor: torch.Tensor, extra: str = "") -> str:
    """SHA-256 of a tensor's bytes (CPU, contiguous) and ``extra``."""
    h = hashlib.sha256(extra.encode())
    h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _described(value):
    """A parameter as JSON values: a coupling or bridge object as its class and constructor parameters."""
    if value is None or isinstance(value, (str, int, float, bool, dict, list, tuple)):
        return _jsonable({"v": value})["v"]
    cls = type(value)
    names = [p.name for p in inspect.signature(cls.__init__).parameters.values()
             if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    params = {name: getattr(value, name) for name in names if hasattr(value, name)}
    return {"class": f"{cls.__module__}.{cls.__qualname__}", **_jsonable(params)}


def _flat(prefix: str, value) -> dict:
    """``{"a": {"b": 1}}`` under ``prefix`` as ``{"prefix.a.b": 1}``; non-dict values as ``{prefix: value}``."""
    if not isinstance(value, dict) or not value:
        return {prefix: value}
    out = {}
    for key, item in value.items():
        out.update(_flat(f"{prefix}.{key}", item))
    return out


def _pad(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Zero-pad (n, d) to (n, dim)."""
    return torch.nn.functional.pad(x, (0, dim - x.shape[1]))
