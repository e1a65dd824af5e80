"""Pack a tree of JPEG files into one array file, and unpack it byte for byte.

Why: a lent GPU machine gets the working tree and at most 64 MiB with it, and FER-2013's
32,298 JPEG files take 59.7 MB, of which 10.6 MB are the same 328-byte header repeated
(every file was written by one encoder with the same tables). Packed, each distinct header
is stored once and the files' remaining bytes are concatenated: 49 MB, and unpacking
rebuilds every file exactly (checked against a SHA-256 of each file's bytes), so the data
there decodes to the same pixels as here. The data stays out of git: pack into a folder
that git ignores (``.device/``) and name it in the device call's ``carry``.

    python tools/pack_images.py pack ../shared/data/fer2013 .device/fer2013.npz
    python tools/pack_images.py unpack .device/fer2013.npz /tmp/fer2013
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from moodreel.files import replaced_on_success

SUFFIXES = (".jpg", ".jpeg")
START_OF_SCAN = b"\xff\xda"


def header_length(data: bytes) -> int:
    """Bytes up to the end of the first start-of-scan segment (0 if there is none): the
    tables, which files from one encoder share, as opposed to the image's own data."""
    start = data.find(START_OF_SCAN)
    if start < 0 or start + 4 > len(data):
        return 0
    return start + 2 + int.from_bytes(data[start + 2:start + 4], "big")


def pack(root: Path, out: Path) -> dict[str, int]:
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not paths:
        raise SystemExit(f"no JPEG files under {root}")
    headers: dict[bytes, int] = {}
    header_index, bodies, digests = [], [], []
    for path in paths:
        data = path.read_bytes()
        cut = header_length(data)
        header_index.append(headers.setdefault(data[:cut], len(headers)))
        bodies.append(data[cut:])
        digests.append(hashlib.sha256(data).digest())
    table = list(headers)
    offsets = np.cumsum([0] + [len(body) for body in bodies], dtype=np.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replaced_on_success(out) as tmp, tmp.open("wb") as handle:
        np.savez(handle,
                 names=np.frombuffer("\n".join(p.relative_to(root).as_posix()
                                               for p in paths).encode(), dtype=np.uint8),
                 headers=np.frombuffer(b"".join(table), dtype=np.uint8),
                 header_offsets=np.cumsum([0] + [len(h) for h in table], dtype=np.int64),
                 header_index=np.array(header_index, dtype=np.int32),
                 bodies=np.frombuffer(b"".join(bodies), dtype=np.uint8),
                 offsets=offsets,
                 sha256=np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 32))
    return {"files": len(paths), "headers": len(table),
            "bytes_in": sum(p.stat().st_size for p in paths), "bytes_out": out.stat().st_size}


def unpack(archive: Path, dest: Path) -> int:
    with np.load(archive, allow_pickle=False) as packed:
        names = packed["names"].tobytes().decode().split("\n")
        headers = packed["headers"].tobytes()
        header_offsets = packed["header_offsets"]
        header_index = packed["header_index"]
        bodies = packed["bodies"].tobytes()
        offsets = packed["offsets"]
        digests = packed["sha256"]
    for i, name in enumerate(names):
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise SystemExit(f"{archive}: refusing a path outside the destination: {name}")
        h = header_index[i]
        data = (headers[header_offsets[h]:header_offsets[h + 1]]
                + bodies[offsets[i]:offsets[i + 1]])
        if hashlib.sha256(data).digest() != digests[i].tobytes():
            raise SystemExit(f"{archive}: {name} does not unpack to the bytes packed")
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return len(names)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="ROOT (a tree of JPEG files) -> OUT.npz")
    packing.add_argument("root", type=Path)
    packing.add_argument("out", type=Path)
    unpacking = commands.add_parser("unpack", help="ARCHIVE.npz -> the same files under DEST")
    unpacking.add_argument("archive", type=Path)
    unpacking.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    if args.command == "pack":
        stats = pack(args.root, args.out)
        print(f"{stats['files']:,} files, {stats['headers']} distinct header(s): "
              f"{stats['bytes_in'] / 1e6:.1f} MB -> {stats['bytes_out'] / 1e6:.1f} MB "
              f"in {args.out}")
    else:
        count = unpack(args.archive, args.dest)
        print(f"{count:,} files under {args.dest}, each checked against its SHA-256")


if __name__ == "__main__":
    sys.exit(main())
