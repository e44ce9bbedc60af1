"""The built layer: arm64 binaries only, no boto3/botocore, the current `watershed` sources."""

from __future__ import annotations

import filecmp
from pathlib import Path

from scripts.build_layer import SOURCES, TARGET, build

ELF_MACHINE_AARCH64 = 0xB7
RUNTIME_SHIPPED = ("boto3", "botocore", "s3transfer")


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def test_every_shared_object_is_aarch64() -> None:
    shared = list(TARGET.rglob("*.so"))
    assert shared, "the layer has compiled dependencies (pydantic-core)"
    for path in shared:
        assert _elf_machine(path) == ELF_MACHINE_AARCH64, path


def test_every_wheel_tag_is_aarch64_or_pure() -> None:
    tags = [
        line.split(":", 1)[1].strip()
        for wheel in TARGET.glob("*.dist-info/WHEEL")
        for line in wheel.read_text().splitlines()
        if line.startswith("Tag:")
    ]
    assert tags
    for tag in tags:
        assert tag.endswith("-none-any") or "aarch64" in tag, tag


def test_boto3_and_botocore_are_not_shipped() -> None:
    names = {p.name.split("-")[0].lower() for p in TARGET.iterdir()}
    assert not names & set(RUNTIME_SHIPPED)


def test_layer_carries_the_current_watershed_sources() -> None:
    build()
    for source in (SOURCES / "watershed").rglob("*.py"):
        built = TARGET / source.relative_to(SOURCES)
        assert filecmp.cmp(source, built, shallow=False), source


def test_rebuild_without_changes_is_a_no_op() -> None:
    build()
    assert build() is False
