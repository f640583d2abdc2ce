"""The built-in analyses, registered through ``flowalign_register_analyses`` as any plugin's would be.

Each factory takes keyword options (checked at once, so a widget or ``fa.make`` reports a bad value
before anything runs) and returns a callable ``(a, b) -> pandas.DataFrame``: ``a`` is the
representation under study (the source before alignment, the transported source after), ``b`` the
reference (the target). See :func:`flowalign_nb.hookspecs.flowalign_register_analyses`.
"""

from __future__ import annotations

import inspect

import pandas as pd

from ..hookspecs import hookimpl
from .decoding import decode, transfer_decode
from .inputs import NotApplicableError, Repetitions, Subjects, averaged, check_choice, check_int, renamed_keywords
from .predictivity import predictivity
from .rdms import RDM_METHODS
from .rsa import COMPARE_METHODS, rsa
from .similarity import cka, mutual_knn_alignment, shape_metric


class RSAAnalysis:
    """RSA of ``a`` with the reference ``b`` over their shared stimuli (:func:`flowalign_nb.rsa`).

    ``b`` given as :class:`~flowalign_nb.analysis.inputs.Subjects` gives one RDM per subject and a noise
    ceiling across them; as :class:`~flowalign_nb.analysis.inputs.Repetitions`, one RDM of the repetitions
    of one recording (averaged per stimulus, or cross-validated for crossnobis).
    """

    def __init__(self, rdm_method: str = "correlation", method: str = "spearman", bootstrap: int = 1000, seed: int = 0,
                 **deprecated):
        method = renamed_keywords("analysis 'rsa'", deprecated, _accepted(RSAAnalysis), compare=("method", method, "spearman")).get("method", method)
        check_choice("rdm_method", rdm_method, RDM_METHODS)
        check_choice("method", method, tuple(COMPARE_METHODS))
        self.options = dict(rdm_method=rdm_method, method=method, bootstrap=check_int("bootstrap", bootstrap, 0),
                            seed=check_int("seed", seed, 0))

    def __call__(self, a, b) -> pd.DataFrame:
        return rsa(a, [list(b)] if isinstance(b, Repetitions) else b, **self.options).table


class DecodingAnalysis:
    """Cross-validated decoding of ``a``'s classes in coord ``label`` (:func:`flowalign_nb.decode`).

    It scores ``a`` alone (how much class information it carries); the reference ``b`` is not used.
    """

    def __init__(self, label: str = "label", cv: int = 5, seed: int = 0, **deprecated):
        label = renamed_keywords("analysis 'decoding'", deprecated, _accepted(DecodingAnalysis), target=("label", label, "label")).get("label", label)
        self.options = dict(label=label, cv=check_int("cv", cv, 2), seed=check_int("seed", seed, 0))

    def __call__(self, a, b) -> pd.DataFrame:
        return decode(a, **self.options).table


class TransferDecodingAnalysis:
    """A decoder trained on ``b`` (repetitions averaged) tested on ``a`` (:func:`flowalign_nb.transfer_decode`).

    ``pad=True`` (default) zero-pads an ``a`` with fewer neuroids than ``b``: the before-alignment
    baseline of a source that has not been transported.
    """

    def __init__(self, label: str = "label", pad: bool = True):
        if not isinstance(pad, bool):
            raise ValueError(f"pad={pad!r} is not allowed; use True or False")
        self.options = dict(label=label, pad=pad)

    def __call__(self, a, b) -> pd.DataFrame:
        return transfer_decode(a, averaged(one_space(b, "transfer decoding"), "b"), **self.options).table


class PredictivityAnalysis:
    """Cross-validated PLS prediction of ``b``'s neuroids from ``a``'s features (:func:`flowalign_nb.predictivity`)."""

    def __init__(self, n_components: int = 25, cv: int = 10, seed: int = 0, stratify: str | None = "label"):
        self.options = dict(n_components=check_int("n_components", n_components, 1), cv=check_int("cv", cv, 2),
                            seed=check_int("seed", seed, 0), stratify=stratify)

    def __call__(self, a, b) -> pd.DataFrame:
        return predictivity(a, one_space(b, "predictivity"), **self.options).table


def _accepted(factory) -> list[str]:
    return [p.name for p in inspect.signature(factory).parameters.values() if p.kind == p.POSITIONAL_OR_KEYWORD]


def one_space(b, what: str):
    """``b`` unless it holds several subjects, which an analysis of one target space cannot take."""
    if isinstance(b, Subjects):
        raise NotApplicableError(f"{what} reads one target space; it does not apply to subjects= (pass one "
                                 "subject's representation as target, or its repetitions as repetitions=)")
    return b


class CKAAnalysis:
    """Linear CKA of ``a`` and ``b`` over shared stimuli, a similarity in [0, 1] (:func:`flowalign_nb.cka`)."""

    def __init__(self, debiased: bool = False, null: int = 0, seed: int = 0):
        if not isinstance(debiased, bool):
            raise ValueError(f"debiased={debiased!r} is not allowed; use True or False")
        self.options = dict(debiased=debiased, null=check_int("null", null, 0), seed=check_int("seed", seed, 0))

    def __call__(self, a, b) -> pd.DataFrame:
        return cka(a, averaged(one_space(b, "CKA"), "b"), **self.options).table


class ShapeMetricAnalysis:
    """Generalised shape distance (Williams et al. 2021), a distance in radians (:func:`flowalign_nb.shape_metric`)."""

    def __init__(self, alpha: float = 1.0, cv: int | None = None, null: int = 0, seed: int = 0):
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
            raise ValueError(f"alpha={alpha!r} is not allowed; it must be a number in [0, 1] (1: Procrustes, 0: CCA)")
        self.options = dict(alpha=float(alpha), cv=None if cv is None else check_int("cv", cv, 2),
                            null=check_int("null", null, 0), seed=check_int("seed", seed, 0))

    def __call__(self, a, b) -> pd.DataFrame:
        return shape_metric(a, averaged(one_space(b, "the shape metric"), "b"), **self.options).table


class MutualKNNAnalysis:
    """Mutual k-nearest-neighbour alignment (Huh et al. 2024), a similarity in [0, 1] (:func:`flowalign_nb.mutual_knn_alignment`)."""

    def __init__(self, k: int = 10, null: int = 0, seed: int = 0):
        self.options = dict(k=check_int("k", k, 1), null=check_int("null", null, 0), seed=check_int("seed", seed, 0))

    def __call__(self, a, b) -> pd.DataFrame:
        return mutual_knn_alignment(a, averaged(one_space(b, "mutual k-NN"), "b"), **self.options).table


@hookimpl
def flowalign_register_analyses(registry):
    registry.add("rsa", RSAAnalysis, description="RSA (rsatoolbox): RDM comparison with bootstrap CI and noise ceiling")
    registry.add("decoding", DecodingAnalysis, description="cross-validated decoding accuracy of a (scikit-learn)")
    registry.add("transfer_decoding", TransferDecodingAnalysis,
                 description="decoder trained on the reference b, tested on a (cross-modal transfer)")
    registry.add("predictivity", PredictivityAnalysis,
                 description="Brain-Score neural predictivity: cross-validated PLS from a to each neuroid of b")
    registry.add("cka", CKAAnalysis, description="linear CKA similarity (Kornblith 2019; debiased option), permutation null")
    registry.add("shape_metric", ShapeMetricAnalysis,
                 description="generalised shape distance (Williams 2021; alpha 1 Procrustes, 0 CCA; cross-validated option)")
    registry.add("mutual_knn", MutualKNNAnalysis, description="mutual k-nearest-neighbour similarity (Huh 2024), permutation null")
