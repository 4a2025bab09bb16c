"""`python -m devtools.swagger_ui [VERSION | --check]`: the Swagger UI files GET /docs serves.

Copied from the npm package swagger-ui-dist into chalicelib/web/swagger-ui (see
devtools/vendoring.py and chalicelib/web/README.md)."""

from __future__ import annotations

from devtools.vendoring import ROOT, Vendored, main

WEB = ROOT / "chalicelib" / "web"
# The bundle (React and Swagger UI, minified), its stylesheet, and the licences that cover them.
SWAGGER_UI = Vendored(
    package="swagger-ui-dist",
    target=WEB / "swagger-ui",
    readme=WEB / "README.md",
    files={
        name: name
        for name in (
            "swagger-ui-bundle.js",
            "swagger-ui.css",
            "LICENSE",
            "NOTICE",
            "swagger-ui-bundle.js.LICENSE.txt",
        )
    },
)

if __name__ == "__main__":
    main(SWAGGER_UI, __doc__.splitlines()[0])
