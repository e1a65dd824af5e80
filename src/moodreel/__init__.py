"""moodreel: recognise emotions from faces with a small real-time CNN and recommend movies.

Importing the package is cheap and never imports torch; training code lives in
``moodreel.nn`` and ``moodreel.train`` and is imported only when used.
"""

from moodreel.labels import BASIC_EMOTIONS, EMOTIONS

__version__ = "0.1.0"
__all__ = ["BASIC_EMOTIONS", "EMOTIONS", "__version__"]
