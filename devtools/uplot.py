"""`python -m devtools.uplot [VERSION | --check]`: the uPlot files the ECG viewer (GET /) draws with.

Copied from the npm package uplot into chalicelib/web/viewer/vendor (see devtools/vendoring.py
and chalicelib/web/viewer/README.md)."""

from __future__ import annotations

from devtools.vendoring import ROOT, Vendored, main

VIEWER = ROOT / "chalicelib" / "web" / "viewer"
# The script (IIFE: defines the global uPlot), its stylesheet, and the MIT licence of both.
UPLOT = Vendored(
    package="uplot",
    target=VIEWER / "vendor",
    readme=VIEWER / "README.md",
    files={
        "dist/uPlot.iife.min.js": "uPlot.iife.min.js",
        "dist/uPlot.min.css": "uPlot.min.css",
        "LICENSE": "LICENSE",
    },
)

if __name__ == "__main__":
    main(UPLOT, __doc__.splitlines()[0])
