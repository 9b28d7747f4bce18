"""Show a figure the package made (a matplotlib Figure outside pyplot) in the gallery."""

import io

import matplotlib.pyplot as plt


def show(figure, width: float = 7.0) -> None:
    """Draw ``figure`` into a pyplot figure, which the gallery collects."""
    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    buf.seek(0)
    image = plt.imread(buf)
    height = width * image.shape[0] / image.shape[1]
    _, ax = plt.subplots(figsize=(width, height))
    ax.imshow(image)
    ax.axis("off")
