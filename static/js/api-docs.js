// The API reference page: Swagger UI on /api/v1/openapi.json (a static file, as the CSP requires).
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") return;
  SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    // "Try it out" sends the signed-in session's cookie; the CSRF token comes from the cookie too.
    requestInterceptor: function (request) {
      var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
      if (match && request.method !== "GET") request.headers["X-CSRFToken"] = decodeURIComponent(match[1]);
      return request;
    },
  });
});
