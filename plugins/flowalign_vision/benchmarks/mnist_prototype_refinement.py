"""Would refining the class prototypes with unlabelled items help the ``prototype`` bridge? (It does not.)

Nearest-class-mean accuracy over all training items of each space (seed 0), starting from the means of
the labelled items (iteration 0, what the ``prototype`` bridge uses) and refined by k-means steps
over the unlabelled items with the labelled items clamped to their class (iterations 1-10). Labels
of unlabelled items are used for scoring only.

Usage::

    .venv/bin/python plugins/flowalign_vision/benchmarks/mnist_prototype_refinement.py
"""

import numpy as np
import torch

import flowalign_nb as fa


def refined_accuracies(values: np.ndarray, labels: np.ndarray, known: np.ndarray, iterations: int = 10) -> list[float]:
    """Nearest-class-mean accuracy of standardised ``values`` (n, d) after 0 .. ``iterations`` k-means steps."""
    classes = np.unique(labels)
    x = (values - values.mean(0)) / (values.std(0) + 1e-9)
    means = np.stack([x[known & (labels == c)].mean(0) for c in classes])
    accuracies = []
    for _ in range(iterations + 1):
        assign = ((x[:, None] - means[None]) ** 2).sum(-1).argmin(1)
        assign[known] = np.searchsorted(classes, labels[known])
        accuracies.append(float(np.mean(classes[assign] == labels)))
        means = np.stack([x[assign == k].mean(0) for k in range(len(classes))])
    return accuracies


def main() -> None:
    torch.set_num_threads(1)
    print("task | fraction | space | NCM accuracy at k-means iterations 0..10")
    for name in ("mnist_effnet_to_cnn", "mnist_text_to_image"):
        data = fa.make("task", name, progress=False).load(0)
        for fraction in (0.02, 0.1, 0.2):
            for space, rep, seed in (("source", data.source, 0), ("target", data.target, 1000)):
                known = fa.mask_labels(rep, fraction, seed=seed)["is_labelled"].values
                accuracies = refined_accuracies(rep.values, rep["label"].values, known)
                print(f"{name} | {fraction} | {space} | " + " ".join(f"{a:.3f}" for a in accuracies), flush=True)


if __name__ == "__main__":
    main()
