"""Built-in model families; importing this package registers them."""

from moodreel.nn.models import mini_xception, mobile, simple_cnn  # noqa: F401
