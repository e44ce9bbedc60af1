"""Infra bench (not pytest): synth time, the largest function asset, the layer size unzipped.

    python tests/bench/bench_infra.py        (after `make layer`)

Goals (issue 4): largest function asset <= 50 KB, layer <= 30 MB unzipped.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core" / "python")]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1,20")

from functions.manifest import FUNCTIONS  # noqa: E402
from infra.functions import ASSET_EXCLUDES  # noqa: E402
from infra.layer import LAYER_BUILD  # noqa: E402

FUNCTION_ASSET_GOAL = 50 * 1024
LAYER_GOAL = 30 * 1024 * 1024


def _included(path: Path) -> bool:
    return path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"


def zipped_size(folder: Path) -> int:
    """What Lambda receives for the folder: a deflated zip of the files the asset includes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if _included(p)):
            archive.write(path, path.relative_to(folder))
    return buffer.tell()


def unzipped_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if _included(p))


def synth_seconds() -> float:
    """Wall time of `python app.py` as `make synth` runs it (with cdk-nag and CDK's validation)."""
    import subprocess

    with tempfile.TemporaryDirectory() as outdir:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "app.py"],
            cwd=ROOT,
            check=True,
            env={**os.environ, "CDK_OUTDIR": outdir},
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


def main() -> None:
    print(f"asset excludes: {ASSET_EXCLUDES}")
    sizes = {f.name: (zipped_size(f.folder), unzipped_size(f.folder)) for f in FUNCTIONS if f.folder.is_dir()}
    name, (zipped, unzipped) = max(sizes.items(), key=lambda item: item[1][1])
    verdict = "ok" if unzipped <= FUNCTION_ASSET_GOAL else "OVER GOAL"
    print(
        f"largest function asset: {name} {unzipped / 1024:.1f} KB unzipped, "
        f"{zipped / 1024:.1f} KB zipped (goal <= 50 KB) {verdict}"
    )
    layer = unzipped_size(LAYER_BUILD / "python")
    verdict = "ok" if layer <= LAYER_GOAL else "OVER GOAL"
    print(f"layer: {layer / 1024 / 1024:.1f} MB unzipped (goal <= 30 MB) {verdict}")
    print(f"synth (python app.py, cdk-nag + CloudFormation validation): {synth_seconds():.1f} s")


if __name__ == "__main__":
    main()
