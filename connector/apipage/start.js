// Shows the OpenAPI document embedded in the page (connector/apipage): no request, no CDN.
window.addEventListener("DOMContentLoaded", function () {
  SwaggerUIBundle({
    spec: JSON.parse(document.getElementById("openapi").textContent),
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    supportedSubmitMethods: [],
    validatorUrl: null,
  });
});
