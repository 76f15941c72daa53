// warren's own (not vendored): starts Swagger UI on /v1/openapi.json. It lives in its own
// file because the page's Content-Security-Policy allows no inline script.
"use strict";

window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The API key pasted under "Authorize" lives in this tab only, never in localStorage.
    persistAuthorization: false,
    // Never send the document to an outside validator (and the CSP would block it anyway).
    validatorUrl: null,
    displayOperationId: true,
    showExtensions: false,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout",
  });
});
