"""Front-end files shipped in the package (no CDN), copied out of an npm tarball, pinned.

A package's files are copied out of `npm pack NAME@VERSION` (the tarball alone: no install,
so no install script runs) into a folder of chalicelib/web, and the version, the tarball's
integrity and each file's SHA-256 go into that folder's manifest.json. Each vendored package
has a small module that names it (devtools/swagger_ui.py, devtools/uplot.py) and runs `main`:

- no argument: fetch the pinned version again, refuse a tarball whose integrity differs from
  the recorded one, and rewrite the files (a reproducible re-vendor);
- VERSION: update to that version (then run the tests and look at the page);
- `--check`: offline; the committed files match the manifest.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Minified files end by naming a .map file the packages do not ship; the line goes.
SOURCE_MAP_LINE = re.compile(rb"\n?/[/*]# sourceMappingURL=[^\n]*\n?$")


@dataclass(frozen=True)
class Vendored:
    package: str
    target: Path  # the folder the files go to, beside their manifest
    readme: Path  # names `package@version`; kept up to date
    files: dict[str, str]  # path in the tarball -> name in target

    @property
    def manifest(self) -> Path:
        return self.target / "manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(vendored: Vendored) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(vendored.manifest.read_text(encoding="utf-8"))
    return manifest


def npm_pack(package: str, version: str, folder: Path) -> tuple[Path, str]:
    """The tarball of package@version and its integrity (as npm's lockfiles write it)."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is required (Node.js 20+)")
    result = subprocess.run(
        [npm, "pack", f"{package}@{version}", "--json", "--pack-destination", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    packed = json.loads(result.stdout)[0]
    tarball = folder / packed["filename"]
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if integrity != packed["integrity"]:
        sys.exit(f"{tarball.name}: integrity {integrity} is not npm's {packed['integrity']}")
    return tarball, integrity


def extract(vendored: Vendored, tarball: Path) -> dict[str, bytes]:
    contents: dict[str, bytes] = {}
    with tarfile.open(tarball) as archive:
        for source, name in vendored.files.items():
            member = archive.extractfile(f"package/{source}")
            if member is None:
                sys.exit(f"{tarball.name} has no {source}")
            data = member.read()
            if name.endswith((".js", ".css")):
                data = SOURCE_MAP_LINE.sub(b"\n", data)
            contents[name] = data
    return contents


def vendor(vendored: Vendored, version: str, expected_integrity: str | None) -> None:
    package = vendored.package
    with tempfile.TemporaryDirectory() as folder:
        tarball, integrity = npm_pack(package, version, Path(folder))
        if expected_integrity is not None and integrity != expected_integrity:
            sys.exit(
                f"{package}@{version}: integrity {integrity}, but the manifest pins {expected_integrity}"
            )
        contents = extract(vendored, tarball)
    vendored.target.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        (vendored.target / name).write_bytes(data)
    manifest = {
        "package": package,
        "version": version,
        "integrity": integrity,
        "files": {name: sha256(data) for name, data in contents.items()},
    }
    vendored.manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    readme = vendored.readme.read_text(encoding="utf-8")
    vendored.readme.write_text(
        re.sub(rf"{re.escape(package)}@[0-9][^` ]*", f"{package}@{version}", readme), encoding="utf-8"
    )
    sizes = ", ".join(f"{name} {len(data) / 1000:.0f} kB" for name, data in contents.items())
    print(f"{package}@{version} ({integrity}) -> {vendored.target.relative_to(ROOT)}: {sizes}")


def check(vendored: Vendored) -> list[str]:
    """What differs between the committed files and the manifest (nothing when they agree)."""
    manifest = read_manifest(vendored)
    names = vendored.files.values()
    problems = [f"{name} is missing" for name in names if name not in manifest["files"]]
    for name, digest in manifest["files"].items():
        path = vendored.target / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif sha256(path.read_bytes()) != digest:
            problems.append(f"{name} differs from {vendored.package}@{manifest['version']}")
    return problems


def main(vendored: Vendored, description: str) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "version", nargs="?", help=f"the {vendored.package} version to vendor (default: the pinned one)"
    )
    parser.add_argument("--check", action="store_true", help="only compare the files with the manifest")
    arguments = parser.parse_args()
    if arguments.check:
        problems = check(vendored)
        pinned = read_manifest(vendored)["version"]
        print("\n".join(problems) or f"{vendored.package}@{pinned}: files match the manifest")
        sys.exit(1 if problems else 0)
    pinned_manifest = read_manifest(vendored) if vendored.manifest.is_file() else {}
    version = arguments.version or pinned_manifest.get("version")
    if version is None:
        sys.exit("no manifest yet: name the version")
    same = version == pinned_manifest.get("version")
    vendor(vendored, version, pinned_manifest.get("integrity") if same else None)
