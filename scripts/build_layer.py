"""Build the core Lambda layer into layers/core/build/python (no Docker, no boto3).

Resolves layers/core/requirements.txt for the Lambda runtime's Python on arm64 (binary wheels
only), installs every resolved package except those the runtime already ships (boto3 and its
dependency closure, see infra/runtime.py), then copies the `watershed` package beside them.
Two stamps keep it cheap: the dependencies are reinstalled only when the requirements (or the
runtime) change, and `watershed` is re-copied only when its sources change.

    python scripts/build_layer.py [--force] [--requirements PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.runtime import PYTHON_VERSION, RUNTIME_PROVIDED, WHEEL_PLATFORMS  # noqa: E402

LAYER_ROOT = ROOT / "layers" / "core"
SOURCES = LAYER_ROOT / "python"
REQUIREMENTS = LAYER_ROOT / "requirements.txt"
BUILD = LAYER_ROOT / "build"
TARGET = BUILD / "python"
DEPS_STAMP = BUILD / ".deps-stamp"
SOURCES_STAMP = BUILD / ".sources-stamp"


def _source_files() -> list[Path]:
    return sorted(p for p in SOURCES.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def deps_digest(requirements: Path) -> str:
    """A digest of what decides the third-party part of the layer."""
    digest = hashlib.sha256()
    digest.update(json.dumps([PYTHON_VERSION, WHEEL_PLATFORMS, sorted(RUNTIME_PROVIDED)]).encode())
    digest.update(requirements.read_bytes())
    return digest.hexdigest()


def sources_digest() -> str:
    """A digest of the `watershed` sources."""
    digest = hashlib.sha256()
    for path in _source_files():
        digest.update(str(path.relative_to(SOURCES)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _pip_platform_args() -> list[str]:
    args = ["--implementation", "cp", "--python-version", PYTHON_VERSION, "--only-binary=:all:"]
    for platform in WHEEL_PLATFORMS:
        args += ["--platform", platform]
    return args


def resolve(requirements: Path) -> list[tuple[str, str]]:
    """(name, version) of every package the requirements pull in, for the Lambda platform."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--dry-run",
                "--ignore-installed",
                "--target",
                str(Path(scratch) / "t"),
                "--report",
                str(report),
                *_pip_platform_args(),
                "-r",
                str(requirements),
            ],
            check=True,
        )
        installs = json.loads(report.read_text())["install"]
    return [(item["metadata"]["name"], item["metadata"]["version"]) for item in installs]


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _stamped(stamp: Path, digest: str) -> bool:
    return stamp.is_file() and stamp.read_text().strip() == digest


def _install_dependencies(requirements: Path) -> list[str]:
    packages = [
        f"{name}=={version}" for name, version in resolve(requirements) if _normalise(name) not in RUNTIME_PROVIDED
    ]
    shutil.rmtree(BUILD, ignore_errors=True)
    TARGET.mkdir(parents=True)
    if packages:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-compile",
                "--target",
                str(TARGET),
                *_pip_platform_args(),
                *packages,
            ],
            check=True,
        )
    return packages


def build(requirements: Path = REQUIREMENTS, *, force: bool = False) -> bool:
    """Build what is stale; returns False when the layer was already up to date."""
    if not requirements.is_file():
        raise SystemExit(f"{requirements} is missing: it lists what the layer ships")
    deps, sources = deps_digest(requirements), sources_digest()
    deps_fresh = not force and TARGET.is_dir() and _stamped(DEPS_STAMP, deps)
    if deps_fresh and _stamped(SOURCES_STAMP, sources):
        print(f"layer up to date: {TARGET}")
        return False
    if not deps_fresh:
        packages = _install_dependencies(requirements)
        DEPS_STAMP.write_text(deps + "\n")
        print(f"layer dependencies: {', '.join(packages)}")
    shutil.rmtree(TARGET / "watershed", ignore_errors=True)
    shutil.copytree(
        SOURCES / "watershed",
        TARGET / "watershed",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    SOURCES_STAMP.write_text(sources + "\n")
    print(f"layer built: {TARGET}")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS)
    args = parser.parse_args()
    build(args.requirements, force=args.force)


if __name__ == "__main__":
    main()
