"""Convert MTCNN's three networks from the facenet-pytorch wheel to the ONNX files we ship.

    pip download --no-deps facenet-pytorch==2.6.0 -d /tmp/wheels
    .venv/bin/python tools/convert_mtcnn.py /tmp/wheels/facenet_pytorch-2.6.0-py3-none-any.whl \
        [--int8 --data ../shared/data/fer2013]

Writes ``src/moodreel/assets/mtcnn_{pnet,rnet,onet}.onnx`` (``--out`` elsewhere) and checks
each float network against PyTorch on random input. ``--int8`` quantizes O-Net's convolutions,
calibrated on the cascade's own crops of FER-2013 train faces (``quantize_mtcnn.py``); the
package ships all three float, since int8 reads faces differently from one CPU to another
(``docs/experiments.md``, "O-Net back to float"). Run once by a developer, never at run time:
the package ships the converted files (MIT, see ``assets/mtcnn_LICENSE.txt``).

Why convert rather than depend on facenet-pytorch: serving never imports PyTorch, and the
wheel's detector needs torchvision. Two changes on the way, neither changing what the networks
compute on a gray image: the first convolution takes one channel (its weights summed over
RGB, exact for a gray image repeated in three channels, which is what our detector sees), and
the face classifiers end in the face probability alone. And for ONNX Runtime's speed (1.5x
per frame, then R-Net 1.2x), forms that compute the same numbers
(``Cascade``): PReLU as per-channel 1x1 convolutions (P-Net, R-Net) or as two ReLUs after
the pooling it preceded (O-Net), the two-way softmax as a sigmoid; each file is checked
against the original forms.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import nn

OUT = Path(__file__).resolve().parents[1] / "src" / "moodreel" / "assets"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"
WEIGHTS = "facenet_pytorch/data/{}.pt"
LICENSE = "facenet_pytorch-2.6.0.dist-info/LICENSE.md"
OPSET = 17


def _conv(cin: int, cout: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel), nn.PReLU(cout)]


class Cascade(nn.Module):
    """What the three networks share: with ``fast`` (for export) the forms ONNX Runtime runs
    fast, computing the same numbers; without, the original forms, to check them against."""

    fast = True
    #: Maps' PReLUs as two depthwise 1x1 convolutions, which ONNX Runtime runs in its blocked
    #: layout with the convolutions around them; O-Net keeps the elementwise forms, which
    #: suit its int8 convolutions (``quantize_mtcnn.py``).
    blocked = True

    def act(self, x: torch.Tensor, prelu: nn.PReLU) -> torch.Tensor:
        """PReLU. Fast on maps (``blocked``) as ``dw(a, x) + dw(1 - a, relu(x))``, two
        per-channel 1x1 convolutions: ONNX Runtime keeps them, the ReLU and the sum (fused
        into the second) in its blocked layout (NCHWc), where any elementwise form makes it
        convert the map out and back around each PReLU (R-Net 1.2x, P-Net 1.0-1.1x as
        fast; session 19).
        Otherwise as ``relu(x) - a * relu(-x)``, which is ``x`` or ``a * x`` exactly (ONNX
        Runtime's PRelu broadcasts its per-channel slope slowly: 45% of R-Net's time)."""
        if not self.fast:
            return prelu(x)
        if self.blocked and x.dim() == 4:
            slope = prelu.weight.view(-1, 1, 1, 1)
            return (F.conv2d(x, slope, groups=slope.shape[0])
                    + F.conv2d(torch.relu(x), 1 - slope, groups=slope.shape[0]))
        slope = prelu.weight.view(1, -1, *([1] * (x.dim() - 2)))
        return torch.relu(x) - slope * torch.relu(-x)

    def act_pool(self, x: torch.Tensor, prelu: nn.PReLU, pool: nn.MaxPool2d) -> torch.Tensor:
        """``pool(prelu(x))``; fast, where not ``blocked``, with PReLU on the pooled maps, a
        quarter of the work: PReLU is monotonic (slope >= 0) or convex (slope < 0), so its
        largest value over a window is its value at the window's largest or smallest input
        (the maximum of two maps would leave the blocked layout)."""
        if not self.fast or self.blocked:
            return pool(self.act(x, prelu))
        return torch.maximum(self.act(pool(x), prelu), self.act(-pool(-x), prelu))

    def face_probability(self, logits: torch.Tensor) -> torch.Tensor:
        """The second of two classes' softmax probability; fast as the sigmoid of the
        logits' difference, which it equals (a softmax across channels is slow in ONNX
        Runtime)."""
        if not self.fast:
            return torch.softmax(logits, dim=1)[:, 1]
        return torch.sigmoid(logits[:, 1] - logits[:, 0])


class PNet(Cascade):
    """Proposal net: fully convolutional, one 12x12 window every 2 pixels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 10, 3)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(10, 16, 3)
        self.conv3, self.prelu3 = _conv(16, 32, 3)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.act_pool(self.conv1(x), self.prelu1, self.pool1)
        x = self.act(self.conv3(self.act(self.conv2(x), self.prelu2)), self.prelu3)
        return self.conv4_2(x), self.face_probability(self.conv4_1(x))


class RNet(Cascade):
    """Refine net: 24x24 crops."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 28, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(28, 48, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv(48, 64, 2)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.act_pool(self.conv1(x), self.prelu1, self.pool1)
        x = self.act_pool(self.conv2(x), self.prelu2, self.pool2)
        x = self.act(self.conv3(x), self.prelu3)
        # Caffe's flattening order, which the dense weights were trained with
        x = self.act(self.dense4(torch.flatten(x.permute(0, 3, 2, 1), 1)), self.prelu4)
        return self.dense5_2(x), self.face_probability(self.dense5_1(x))


class ONet(Cascade):
    """Output net: 48x48 crops."""

    blocked = False

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 32, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(32, 64, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv(64, 64, 3)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = _conv(64, 128, 2)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.act_pool(self.conv1(x), self.prelu1, self.pool1)
        x = self.act_pool(self.conv2(x), self.prelu2, self.pool2)
        x = self.act_pool(self.conv3(x), self.prelu3, self.pool3)
        x = self.act(self.conv4(x), self.prelu4)
        x = self.act(self.dense5(torch.flatten(x.permute(0, 3, 2, 1), 1)), self.prelu5)
        # landmarks: x of the eyes, nose and mouth corners, then their y, as box fractions
        return (self.dense6_2(x), self.face_probability(self.dense6_1(x)),
                self.dense6_3(x))


NETS = {"pnet": (PNet, 12), "rnet": (RNet, 24), "onet": (ONet, 48)}


def to_gray_input(net: Cascade) -> Cascade:
    """The same network on one channel: a gray image repeated in RGB meets summed weights."""
    rgb = net.conv1
    gray = nn.Conv2d(1, rgb.out_channels, rgb.kernel_size)
    with torch.no_grad():
        gray.weight.copy_(rgb.weight.sum(dim=1, keepdim=True))
        gray.bias.copy_(rgb.bias)
    net.conv1 = gray
    return net


def load(wheel: zipfile.ZipFile, name: str) -> Cascade:
    cls, _ = NETS[name]
    state = torch.load(io.BytesIO(wheel.read(WEIGHTS.format(name))), weights_only=True)
    net = cls()
    net.load_state_dict(state)
    return net.eval()


def export(net: Cascade, name: str, path: Path) -> float:
    """Write ``net`` in its fast forms to ``path``; the largest output difference from the
    original forms in PyTorch, on random input."""
    _, side = NETS[name]
    shape = (2, 1, 67, 91) if name == "pnet" else (5, 1, side, side)
    axes = {0: "faces"} if name != "pnet" else {0: "images", 2: "height", 3: "width"}
    sample = torch.rand(shape) * 2 - 1
    net.fast = True
    outputs = ["box_offsets", "face_probability"] + (["landmarks"] if name == "onet" else [])
    torch.onnx.export(net, (sample,), str(path), input_names=["image"], output_names=outputs,
                      dynamic_axes={"image": axes}, opset_version=OPSET, dynamo=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    check = torch.rand(shape[0] + 1, *shape[1:]) * 2 - 1
    net.fast = False
    with torch.no_grad():
        expected = [t.numpy() for t in net(check)]
    got = session.run(None, {"image": check.numpy()})
    return max(float(np.abs(a - b).max()) for a, b in zip(expected, got, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="facenet_pytorch-2.6.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--data", type=Path, default=DATA,
                        help="FER-2013 folder whose train faces calibrate the int8 networks")
    parser.add_argument("--int8", action="store_true",
                        help="O-Net's convolutions in int8 (not what the package ships)")
    args = parser.parse_args()
    with zipfile.ZipFile(args.wheel) as wheel, tempfile.TemporaryDirectory() as scratch:
        float_dir = Path(scratch) if args.int8 else args.out
        for name in NETS:
            path = float_dir / f"mtcnn_{name}.onnx"
            error = export(to_gray_input(load(wheel, name)), name, path)
            print(f"{name}: {path.stat().st_size:,} bytes float, max difference from the "
                  f"original forms in PyTorch {error:.1e}")
            if error > 1e-4:
                sys.exit(f"{name}: ONNX Runtime differs from PyTorch by {error}")
        if args.int8:
            from quantize_mtcnn import QUANTIZED, quantize_cascade

            quantize_cascade(float_dir, args.out, args.data)
            for name in set(NETS) - set(QUANTIZED):
                shutil.copyfile(float_dir / f"mtcnn_{name}.onnx", args.out / f"mtcnn_{name}.onnx")
        (args.out / "mtcnn_LICENSE.txt").write_bytes(
            b"MTCNN weights (Zhang et al. 2016) as distributed in facenet-pytorch 2.6.0,\n"
            b"converted to ONNX by tools/convert_mtcnn.py.\n\n" + wheel.read(LICENSE))


if __name__ == "__main__":
    main()
