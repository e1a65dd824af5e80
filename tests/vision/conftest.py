from __future__ import annotations

import numpy as np
import pytest

#: The astronaut's face in scikit-image's photo (x, y, w, h), checked by eye.
ASTRONAUT_FACE = (170, 60, 105, 105)


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    data = pytest.importorskip("skimage.data", reason="scikit-image provides the test photo")
    return np.ascontiguousarray(data.astronaut()[..., ::-1])


@pytest.fixture(scope="session")
def recognizer():
    from moodreel import Recognizer

    return Recognizer()
