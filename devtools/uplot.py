"""`python -m devtools.uplot [VERSION]`: the uPlot files the ECG viewer (`GET /`) draws with, from npm.

uPlot ships in the package (chalicelib/web/viewer/vendor/, committed) so that the viewer needs
no CDN. This copies its minified dist and licence out of `npm pack uplot@VERSION` (the tarball
alone: no install, so no install script runs) and records the version, the tarball's integrity
and each file's SHA-256 in chalicelib/web/viewer/vendor/manifest.json.

- No argument: fetch the pinned version again, refuse a tarball whose integrity differs from
  the recorded one, and rewrite the files (a reproducible re-vendor).
- VERSION: update to that version (then run the tests, browser tier included: see
  chalicelib/web/viewer/README.md).
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VIEWER = ROOT / "chalicelib" / "web" / "viewer"
TARGET = VIEWER / "vendor"
MANIFEST = TARGET / "manifest.json"
README = VIEWER / "README.md"
PACKAGE = "uplot"
# Path in the tarball -> name in vendor/: the script (IIFE: defines the global uPlot), its
# stylesheet, and the MIT licence that covers both.
FILES = {
    "dist/uPlot.iife.min.js": "uPlot.iife.min.js",
    "dist/uPlot.min.css": "uPlot.min.css",
    "LICENSE": "LICENSE",
}
SOURCE_MAP_LINE = re.compile(rb"\n?/[/*]# sourceMappingURL=[^\n]*\n?$")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return manifest


def npm_pack(version: str, folder: Path) -> tuple[Path, str]:
    """The tarball of PACKAGE@version and its integrity (as npm's lockfiles write it)."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is required (Node.js 20+)")
    result = subprocess.run(
        [npm, "pack", f"{PACKAGE}@{version}", "--json", "--pack-destination", str(folder)],
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


def extract(tarball: Path) -> dict[str, bytes]:
    contents: dict[str, bytes] = {}
    with tarfile.open(tarball) as archive:
        for source, name in FILES.items():
            member = archive.extractfile(f"package/{source}")
            if member is None:
                sys.exit(f"{tarball.name} has no {source}")
            data = member.read()
            if name.endswith((".js", ".css")):
                data = SOURCE_MAP_LINE.sub(b"\n", data)
            contents[name] = data
    return contents


def vendor(version: str, expected_integrity: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tarball, integrity = npm_pack(version, Path(folder))
        if expected_integrity is not None and integrity != expected_integrity:
            sys.exit(
                f"{PACKAGE}@{version}: integrity {integrity}, but the manifest pins {expected_integrity}"
            )
        contents = extract(tarball)
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        (TARGET / name).write_bytes(data)
    manifest = {
        "package": PACKAGE,
        "version": version,
        "integrity": integrity,
        "files": {name: sha256(data) for name, data in contents.items()},
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if README.is_file():
        readme = README.read_text(encoding="utf-8")
        README.write_text(
            re.sub(rf"`{PACKAGE}@[0-9][^` ]*", f"`{PACKAGE}@{version}", readme), encoding="utf-8"
        )
    sizes = ", ".join(f"{name} {len(data) / 1000:.0f} kB" for name, data in contents.items())
    print(f"{PACKAGE}@{version} ({integrity}) -> {TARGET.relative_to(ROOT)}: {sizes}")


def check() -> list[str]:
    """What differs between the committed files and the manifest (nothing when they agree)."""
    manifest = read_manifest()
    problems = [f"{name} is missing" for name in FILES.values() if name not in manifest["files"]]
    for name, digest in manifest["files"].items():
        path = TARGET / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif sha256(path.read_bytes()) != digest:
            problems.append(f"{name} differs from {PACKAGE}@{manifest['version']}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "version", nargs="?", help=f"the {PACKAGE} version to vendor (default: the pinned one)"
    )
    parser.add_argument("--check", action="store_true", help="only compare the files with the manifest")
    arguments = parser.parse_args()
    if arguments.check:
        problems = check()
        print("\n".join(problems) or f"{PACKAGE}@{read_manifest()['version']}: files match the manifest")
        sys.exit(1 if problems else 0)
    pinned = read_manifest() if MANIFEST.is_file() else {}
    version = arguments.version or pinned.get("version")
    if version is None:
        sys.exit("no manifest yet: name the version")
    vendor(version, pinned.get("integrity") if version == pinned.get("version") else None)


if __name__ == "__main__":
    main()
