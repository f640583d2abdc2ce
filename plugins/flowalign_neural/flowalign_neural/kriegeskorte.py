"""The Kriegeskorte et al. (2008) 92-image set: real monkey and human IT dissimilarities.

Files (from the rsatoolbox repository, ``demos/92imageData``; shipped with this package in
``flowalign_neural/data/kriegeskorte92`` with their MIT licence and ``PROVENANCE.md``; checked by SHA-256 on load):

``Kriegeskorte_Neuron2008_supplementalData.mat``
    ``stimuli_92objs`` (92 images, 175 x 175 x 3 uint8, their category and the flags ``human``,
    ``face``, ``animal``, ``natural``), ``categoryVectors`` / ``categoryLabels`` (92 x 12 binary),
    ``RDMs_mIT_hIT_fig1``: monkey IT (Kiani et al. 2007, 674 neurons) and human IT (fMRI, 316
    voxels), condensed correlation-distance RDMs of length 92 * 91 / 2 = 4186.
``92_brainRDMs.mat``
    8 human IT RDMs, 92 x 92 (4 subjects x 2 sessions).
``92_behavRDMs.mat``
    16 RDMs of similarity judgements (one per subject).

These are dissimilarities, not trial responses: the ``kriegeskorte92`` modality turns one RDM into
points by classical MDS (:mod:`flowalign_neural.mds`), whose squared distances equal the RDM
(exactly for the brain RDMs, which are correlation distances) so flows and decoders can use it.

Cite: Kriegeskorte et al. (2008) Neuron 60(6):1126-1141; Kiani et al. (2007) J Neurophysiol 97(6):4296-4309.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
import xarray as xr
from scipy.spatial.distance import squareform

from flowalign_nb import make_representation

from .mds import classical_mds
from .recording import restrict

ENV_VAR = "FLOWALIGN_KRIEGESKORTE92"
PACKAGED_FOLDER = Path(__file__).resolve().with_name("data") / "kriegeskorte92"
FILES = {
    "Kriegeskorte_Neuron2008_supplementalData.mat": "06f21214399a5d43dc264eed19a7f4b8daf11c8622a59eec3e106064ce5e3504",
    "92_brainRDMs.mat": "1743f90a15e895798a94318649e80e1123a7e5943a1703fa1dd7c31ea5780b7c",
    "92_behavRDMs.mat": "7a8e118c144c3840adeeeef6ea0706a0be2b3e80df719af15fbb56fc62562f5f",
}
SOURCE = "rsatoolbox repository (rsagroup/rsatoolbox), demos/92imageData, commit f1f83cadb7243492a1aae7460466e0f0140b20ac"
CATEGORIES = ("human bodypart", "human face", "nonhuman bodypart", "nonhuman face", "natural inanimate", "artificial inanimate")


class Kriegeskorte92Error(FileNotFoundError):
    """The 92-image files are missing or not the expected ones; the message says where to get them."""


def kriegeskorte92_folder(folder=None) -> Path:
    """The data folder: ``folder`` if given, else ``$FLOWALIGN_KRIEGESKORTE92``, else the copy shipped with this package.

    Raises
    ------
    Kriegeskorte92Error
        When the chosen folder lacks one of the three files.
    """
    if folder is not None:
        chosen, how = Path(folder).expanduser(), "folder="
    elif os.environ.get(ENV_VAR):
        chosen, how = Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"
    else:
        chosen, how = PACKAGED_FOLDER, f"the copy shipped with flowalign_neural (no folder= and no ${ENV_VAR})"
    missing = [name for name in FILES if not (chosen / name).is_file()]
    if missing:
        raise Kriegeskorte92Error(
            f"the 92-image data folder {chosen} (from {how}) lacks {', '.join(missing)}; copy the files "
            f"{', '.join(FILES)} from the {SOURCE} and pass folder= or set {ENV_VAR}"
        )
    return chosen


def _check(path: Path) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != FILES[path.name]:
        raise Kriegeskorte92Error(f"{path} has SHA-256 {digest}, expected {FILES[path.name]} (the file from the {SOURCE})")


def _rdm_name(raw: str) -> str:
    """``'hIT | BE | Session: 1'`` -> ``'human_it_BE_s1'``; ``'simJudge | subject3'`` -> ``'judgement_s03'``."""
    parts = [p.strip() for p in raw.split("|")]
    if parts[0] == "hIT":
        return f"human_it_{parts[1]}_s{parts[2].split(':')[1].strip()}"
    return f"judgement_s{int(parts[1].removeprefix('subject')):02d}"


@dataclass
class Kriegeskorte92:
    """The 92-image set in memory.

    Attributes
    ----------
    stimuli : pandas.DataFrame, 92 rows
        ``stimulus_id`` (``"k92_00"`` ... ``"k92_91"``, the RDM order), ``label`` (one of
        :data:`CATEGORIES`), ``human``, ``face``, ``animal``, ``natural`` (bool) and ``image``
        (175 x 175 x 3 uint8 arrays).
    category_vectors : pandas.DataFrame, 92 x 12
        The binary category vectors, columns named by ``categoryLabels``, index ``stimulus_id``.
    rdms : xarray.DataArray, dims ("rdm", "stimulus_row", "stimulus_col"), shape (26, 92, 92)
        ``monkey_it``, ``human_it`` (the Figure 1 RDMs), ``human_it_<subject>_s<session>`` (8) and
        ``judgement_s01`` ... ``judgement_s16``; coord ``description`` gives the original names.
    folder : pathlib.Path
    """

    stimuli: pd.DataFrame
    category_vectors: pd.DataFrame
    rdms: xr.DataArray
    folder: Path

    def rdm(self, name: str) -> np.ndarray:
        """The RDM ``name`` as a (92, 92) float64 array; unknown names fail listing the known ones."""
        names = self.rdms["rdm"].values.tolist()
        if name not in names:
            raise ValueError(f"rdm={name!r} is not allowed; known RDMs: {', '.join(names)}")
        return self.rdms.sel(rdm=name).values.astype(np.float64)

    def rdm_array(self, name: str) -> xr.DataArray:
        """The RDM ``name`` as the core's RDM DataArray, for :func:`flowalign_nb.rsa` and :func:`flowalign_nb.layer_scan`.

        Returns
        -------
        xarray.DataArray, dims ("stimulus_a", "stimulus_b"), shape (92, 92)
            Coords ``stimulus_a``/``stimulus_b`` (the stimulus ids) and ``label_a``/``label_b``; ``attrs["method"]``
            is ``"1 - r"`` (the correlation distance of the original RDMs).
        """
        ids, labels = self.stimuli["stimulus_id"].to_numpy(), self.stimuli["label"].to_numpy()
        return xr.DataArray(self.rdm(name), dims=("stimulus_a", "stimulus_b"),
                            coords={"stimulus_a": ids, "stimulus_b": ids, "label_a": ("stimulus_a", labels),
                                    "label_b": ("stimulus_b", labels)}, attrs={"method": "1 - r"})


def load_kriegeskorte92(folder=None) -> Kriegeskorte92:
    """Load and check the 92-image files (see the module docstring).

    Parameters
    ----------
    folder : str, path-like or None
        See :func:`kriegeskorte92_folder`.

    Returns
    -------
    Kriegeskorte92
    """
    folder = kriegeskorte92_folder(folder)
    for name in FILES:
        _check(folder / name)

    def load(name):
        return scipy.io.loadmat(folder / name, squeeze_me=True, struct_as_record=False)

    supp = load("Kriegeskorte_Neuron2008_supplementalData.mat")
    ids = [f"k92_{i:02d}" for i in range(92)]
    stimuli = pd.DataFrame({
        "stimulus_id": ids,
        "label": [s.category for s in supp["stimuli_92objs"]],
        **{flag: [bool(getattr(s, flag)) for s in supp["stimuli_92objs"]] for flag in ("human", "face", "animal", "natural")},
        "image": [np.ascontiguousarray(s.image) for s in supp["stimuli_92objs"]],
    })
    vectors = pd.DataFrame(supp["categoryVectors"].astype(bool), index=pd.Index(ids, name="stimulus_id"),
                           columns=[str(c) for c in supp["categoryLabels"]])
    named = {"monkey_it": supp["RDMs_mIT_hIT_fig1"][0], "human_it": supp["RDMs_mIT_hIT_fig1"][1]}
    matrices = {key: squareform(np.asarray(s.RDM, np.float64)) for key, s in named.items()}
    descriptions = {key: str(s.name) for key, s in named.items()}
    for name in ("92_brainRDMs.mat", "92_behavRDMs.mat"):
        structs = next(v for k, v in load(name).items() if not k.startswith("__"))
        for s in structs.ravel():  # subject-major: BE s1, BE s2, KO s1, ...
            matrices[_rdm_name(str(s.name))] = np.asarray(s.RDM, np.float64)
            descriptions[_rdm_name(str(s.name))] = str(s.name)
    rdms = xr.DataArray(
        np.stack(list(matrices.values())), dims=("rdm", "stimulus_row", "stimulus_col"),
        coords={"rdm": list(matrices), "description": ("rdm", list(descriptions.values())),
                "stimulus_row": ids, "stimulus_col": ids},
        attrs={"source": SOURCE, "citation": "Kriegeskorte et al. 2008, Neuron 60(6); Kiani et al. 2007, J Neurophysiol 97(6)"},
    )
    return Kriegeskorte92(stimuli, vectors, rdms, folder)


class Kriegeskorte92Modality:
    """One RDM of the 92-image set as a representation, by classical MDS.

    The points' squared Euclidean distances reproduce the RDM (exactly for the brain RDMs; see
    :mod:`flowalign_neural.mds`); the attrs ``mds_max_error`` and ``mds_negative_share`` say how
    faithful they are.

    Parameters
    ----------
    rdm : str
        ``"monkey_it"`` (Kiani 2007, 674 neurons), ``"human_it"`` (fMRI, 316 voxels),
        ``"human_it_<BE|KO|SN|TI>_s<1|2>"`` or ``"judgement_s01"`` ... ``"judgement_s16"``.
    folder : str, path-like or None
        See :func:`kriegeskorte92_folder`.
    n_components : int or None
        MDS dimensions; None keeps every positive eigenvalue (at most 91).
    """

    def __init__(self, rdm: str = "monkey_it", folder=None, n_components: int | None = None):
        self.data = load_kriegeskorte92(folder)
        self.rdm_name, self.n_components = rdm, n_components
        self.matrix = self.data.rdm(rdm)

    def stimuli(self) -> pd.DataFrame:
        """The 92 stimuli with their ``image`` payload (for vision modalities)."""
        return self.data.stimuli.copy()

    def represent(self, stimuli=None) -> xr.DataArray:
        """MDS points of the RDM, dims ("presentation", "neuroid"), ``label`` = the 6 categories.

        Parameters
        ----------
        stimuli : pandas.DataFrame or None
            Restrict to (and order by) these ``stimulus_id``; MDS is always computed on all 92.
        """
        result = classical_mds(self.matrix, squared=True, n_components=self.n_components)
        table = self.data.stimuli
        rep = make_representation(
            result.points, stimulus_id=table["stimulus_id"].to_numpy(), label=table["label"].to_numpy(),
            neuroid_id=[f"mds{j}" for j in range(result.points.shape[1])],
            modality="kriegeskorte92", model=self.rdm_name,
            description=str(self.data.rdms.sel(rdm=self.rdm_name)["description"].values),
            mds_max_error=result.max_error, mds_negative_share=result.negative_share,
        )
        return restrict(rep.assign_coords(**{c: ("presentation", table[c].to_numpy()) for c in ("human", "face", "animal", "natural")}), stimuli)
