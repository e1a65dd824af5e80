"""``python -m moodreel``: the command line."""

from moodreel.cli import main

main()
