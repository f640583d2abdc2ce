"""Point the loaders at this workplace's ``../shared/data`` copies, for the tests and benchmarks only.

The HvM IT subset and the ImageNet sample may not ship with the project, so the library reads them only
from a folder the user gives (``folder=`` or an environment variable). Here, where a copy lies beside the
repository, :func:`use_shared_data` sets those variables to it (never overriding one the user set), unless
``$FLOWALIGN_NO_SHARED`` is set non-empty, as in ``.ci/run``'s second pass, which stands for a user's clone.
"""

import os
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: environment variable of each loader -> its folder under ../shared/data
FOLDERS = {"FLOWALIGN_HVM_IT": "hvm_it_subset", "FLOWALIGN_IMAGENET_SAMPLE": "imagenet_sample1000"}


def use_shared_data() -> None:
    """Set each loader's variable to its ``../shared/data`` folder when that exists and the variable is unset."""
    if os.environ.get("FLOWALIGN_NO_SHARED"):
        return
    for variable, name in FOLDERS.items():
        if (SHARED_DATA / name).is_dir():
            os.environ.setdefault(variable, str(SHARED_DATA / name))
