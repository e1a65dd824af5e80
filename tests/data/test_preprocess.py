"""Preprocessing: the one resize + normalise step shared by training and serving."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from moodreel.data.preprocess import Preprocessing
from tests.synthetic import make_faces


@pytest.mark.parametrize(("height", "width"), [(96, 96), (24, 24), (60, 40)])
def test_resize_gives_the_model_size(height, width):
    faces = np.zeros((3, height, width), dtype=np.uint8)
    faces[:, :, width // 2:] = 200  # dark left half, bright right half

    out = Preprocessing(size=48).resize(faces)

    assert out.shape == (3, 48, 48) and out.dtype == np.uint8
    assert (out[:, :, :20] == 0).all() and (out[:, :, -20:] == 200).all()


def test_resize_keeps_a_uniform_face_uniform():
    out = Preprocessing(size=64).resize(np.full((2, 100, 100), 123, dtype=np.uint8))
    assert out.shape == (2, 64, 64)
    assert (out == 123).all()


def test_resize_is_identity_when_already_sized():
    faces, _ = make_faces(1)
    out = Preprocessing(size=48).resize(faces)
    np.testing.assert_array_equal(out, faces)
    assert out.dtype == np.uint8


@pytest.mark.parametrize(("mean", "std"), [(0.5, 0.5), (0.0, 1.0), (0.2, 0.25)])
def test_normalize_shape_dtype_and_value_mapping(mean, std):
    faces = np.array([[[0, 255], [51, 102]]], dtype=np.uint8).repeat(8, axis=1).repeat(8, axis=2)
    prep = Preprocessing(size=16, mean=mean, std=std)

    out = prep.normalize(faces)

    assert out.shape == (1, 1, 16, 16) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0, 0, 0], (0.0 - mean) / std, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[0, 0, 0, -1], (1.0 - mean) / std, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[0, 0, -1, 0], (0.2 - mean) / std, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[0, 0, -1, -1], (0.4 - mean) / std, rtol=1e-6, atol=1e-6)


def test_default_normalisation_maps_to_minus_one_one():
    faces, _ = make_faces(2)
    out = Preprocessing()(faces)
    assert out.shape == (14, 1, 48, 48) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], faces / 127.5 - 1.0, atol=1e-6)


def test_call_resizes_then_normalises():
    faces = np.random.default_rng(0).integers(0, 256, (4, 30, 50), dtype=np.uint8)
    prep = Preprocessing(size=32, mean=0.4, std=0.3)

    out = prep(faces)

    assert out.shape == (4, 1, 32, 32) and out.dtype == np.float32
    np.testing.assert_array_equal(out, prep.normalize(prep.resize(faces)))


@pytest.mark.parametrize(
    "faces",
    [np.zeros((2, 48, 48), dtype=np.float32), np.zeros((2, 48, 48), dtype=np.int64)],
    ids=["float32", "int64"],
)
def test_non_uint8_faces_are_rejected(faces):
    prep = Preprocessing()
    with pytest.raises(ValueError, match="expected uint8"):
        prep.resize(faces)
    with pytest.raises(ValueError, match="expected uint8"):
        prep(faces)


@pytest.mark.parametrize("shape", [(48, 48), (2, 48, 48, 1), (2, 48, 48, 3)])
def test_faces_of_the_wrong_ndim_are_rejected(shape):
    prep = Preprocessing()
    with pytest.raises(ValueError, match=r"shaped \(N, H, W\)"):
        prep.resize(np.zeros(shape, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"shaped \(N, H, W\)"):
        prep(np.zeros(shape, dtype=np.uint8))


def test_to_dict_from_dict_round_trip_through_json():
    prep = Preprocessing(size=64, mean=0.45, std=0.22)

    values = json.loads(json.dumps(prep.to_dict()))

    assert values == {"size": 64, "mean": 0.45, "std": 0.22}
    assert Preprocessing.from_dict(values) == prep


def test_from_dict_coerces_types_from_metadata_strings():
    # ONNX metadata stores strings; from_dict must give back real numbers.
    prep = Preprocessing.from_dict({"size": "48", "mean": "0.5", "std": "0.25"})
    assert prep == Preprocessing(size=48, mean=0.5, std=0.25)
    assert isinstance(prep.size, int) and isinstance(prep.std, float)


@pytest.mark.parametrize(("values", "problem"), [
    ({"size": 4}, "at least 8 pixels"),
    ({"size": 0}, "at least 8 pixels"),
    ({"std": 0.0}, "std must be positive"),
    ({"std": -0.5}, "std must be positive"),
])
def test_invalid_settings_are_rejected(values, problem):
    with pytest.raises(ValueError, match=problem):
        Preprocessing(**values)
    with pytest.raises(ValueError, match=problem):
        Preprocessing.from_dict({**Preprocessing().to_dict(), **values})


def test_settings_are_frozen():
    prep = Preprocessing()
    with pytest.raises(dataclasses.FrozenInstanceError):
        prep.size = 64  # type: ignore[misc]
