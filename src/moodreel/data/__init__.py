"""Datasets and the preprocessing shared by training and serving (no torch here)."""

from moodreel.data.fer2013 import DatasetError, FaceDataset, load_split
from moodreel.data.preprocess import Preprocessing

__all__ = ["DatasetError", "FaceDataset", "Preprocessing", "load_split"]
