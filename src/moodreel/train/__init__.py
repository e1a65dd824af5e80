"""Training, evaluation and export. Submodules import torch, except ``metrics``."""
