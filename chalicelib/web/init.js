// Starts Swagger UI for GET /docs (docs.html). A file, not an inline script: the page's
// Content-Security-Policy runs scripts from this origin only (chalicelib/api/docs.py).
(function () {
  "use strict";

  // This script is <base>docs/init.js, and <base> is where the API answers: the stage URL on
  // AWS (https://<host>/api/), the server's root under `make run`. Deriving it here, rather
  // than naming the document by absolute path, keeps the page working under a stage prefix.
  const base = new URL("../", document.currentScript.src);
  const root = document.getElementById("swagger-ui");

  // The document names its server and token URL by absolute path ("/", "/auth/token"), which
  // a browser would resolve against the host and so drop the stage prefix: resolve them
  // against <base> so that "Try it out" and "Authorize" call this same stage.
  function againstBase(url) {
    return typeof url === "string" && url.startsWith("/") ? new URL(url.slice(1), base).href : url;
  }

  function forThisStage(spec) {
    for (const server of spec.servers || []) {
      server.url = againstBase(server.url).replace(/\/$/, "");
    }
    const schemes = (spec.components && spec.components.securitySchemes) || {};
    for (const scheme of Object.values(schemes)) {
      for (const flow of Object.values(scheme.flows || {})) {
        for (const key of ["tokenUrl", "authorizationUrl", "refreshUrl"]) {
          if (key in flow) flow[key] = againstBase(flow[key]);
        }
      }
    }
    return spec;
  }

  function fail(message) {
    const paragraph = document.createElement("p");
    paragraph.setAttribute("role", "alert");
    paragraph.textContent = message;
    root.replaceChildren(paragraph);
  }

  const documentUrl = new URL("openapi.json", base);
  fetch(documentUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) throw new Error(`${documentUrl} answered ${response.status}`);
      return response.json();
    })
    .then((spec) => {
      window.ui = SwaggerUIBundle({
        spec: forThisStage(spec),
        domNode: root,
        presets: [SwaggerUIBundle.presets.apis],
        layout: "BaseLayout",
        deepLinking: true,
        displayRequestDuration: true,
        // Nothing leaves this origin: no badge from validator.swagger.io.
        validatorUrl: null,
        // Tokens stay in this page's memory: not in localStorage, gone on reload.
        persistAuthorization: false,
      });
    })
    .catch((error) => fail(`The API document could not be loaded: ${error.message}`));
})();
