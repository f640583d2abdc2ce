"""Hook implementations of the ``flowalign_neural`` plugin, found through the ``flowalign_nb`` entry-point group.

Modalities: ``brainio`` (a brainio assembly object or Brain-Score netCDF file), ``majajhong2015`` (the user's
Majaj-Hong 2015 file), ``hvm_it`` (the real 640-image x 168-site HvM IT subset, from a path the user gives), ``kriegeskorte92`` (real monkey/human IT RDMs of the 92-image set, as MDS
points) and ``simulated_it`` (a simulated V4/IT population on MNIST-5k). Tasks: ``it_to_cnn`` and
``kriegeskorte92_it_to_effnet``, whose targets come from the vision plugin's ``mnist_cnn`` and
``efficientnet_lite`` modalities, and ``hvm_it_across_sites`` (real IT sites to other real IT sites).
"""

from flowalign_nb import hookimpl

from .hvm import HvMIT
from .hvm_task import HvMAcrossSitesTask
from .it_to_cnn import ITToCNNTask
from .kriegeskorte import Kriegeskorte92Modality
from .kriegeskorte_task import Kriegeskorte92ITToEffNetTask
from .majajhong import MajajHong2015
from .recording import BrainioRecording
from .simulated import SimulatedIT


@hookimpl
def flowalign_register_modalities(registry):
    registry.add("brainio", BrainioRecording, description="a brainio assembly object or Brain-Score netCDF file; region, time bin, repetitions averaged")
    registry.add("majajhong2015", MajajHong2015, description="Majaj-Hong 2015 V4/IT recordings from a user-supplied Brain-Score file")
    registry.add("hvm_it", HvMIT, description="real Majaj-Hong 2015 IT subset: 640 images (16 objects = block index) x 168 sites, user-supplied path")
    registry.add("kriegeskorte92", Kriegeskorte92Modality, description="real monkey/human IT RDMs of the Kriegeskorte 92-image set, as classical-MDS points")
    registry.add("simulated_it", SimulatedIT, description="SIMULATED V4/IT population (LN-Poisson on EfficientNet-Lite2) on MNIST-5k, Brain-Score format")


@hookimpl
def flowalign_register_tasks(registry):
    registry.add("it_to_cnn", ITToCNNTask, description="SIMULATED IT (MNIST-5k) -> MNIST-CNN features; the CNN's frozen head scores")
    registry.add("kriegeskorte92_it_to_effnet", Kriegeskorte92ITToEffNetTask,
                 description="real monkey IT (92 images) -> EfficientNet-Lite0 block12; 6-way decoding, RSA before/after")
    registry.add("hvm_it_across_sites", HvMAcrossSitesTask,
                 description="real HvM IT: 84 sites on half the images -> 84 other sites on the other half; 16-way object decoding")
