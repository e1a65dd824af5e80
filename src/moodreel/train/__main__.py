"""``python -m moodreel.train`` (and ``torchrun ... -m moodreel.train``): the train command."""

import logging

from moodreel.cli import train

logging.basicConfig(level=logging.INFO, format="%(message)s")
train(prog_name="python -m moodreel.train")
