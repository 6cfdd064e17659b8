/* Kettle API docs: start Swagger UI from data- attributes on #swagger-ui.
 *
 * Lives in its own file, not inline in the page, so the docs work under a
 * Content-Security-Policy without 'unsafe-inline'.
 *
 *   <div id="swagger-ui" data-openapi-url="/openapi.json"></div>
 *
 * Optional attributes (booleans are "true" or "false"):
 *   data-deep-linking (default true), data-doc-expansion ("list", "full",
 *   "none"), data-filter, data-persist-authorization, data-try-it-out-enabled,
 *   data-display-request-duration, data-oauth2-redirect-url.
 */
(function () {
  "use strict";

  var BOOLEAN_OPTIONS = {
    deepLinking: "deepLinking",
    filter: "filter",
    persistAuthorization: "persistAuthorization",
    tryItOutEnabled: "tryItOutEnabled",
    displayRequestDuration: "displayRequestDuration"
  };
  var STRING_OPTIONS = {
    docExpansion: "docExpansion",
    oauth2RedirectUrl: "oauth2RedirectUrl"
  };

  function start() {
    var element = document.getElementById("swagger-ui");
    if (!element) {
      console.error("kettle-docs: no element with id 'swagger-ui'");
      return;
    }
    var data = element.dataset;
    if (!data.openapiUrl) {
      console.error("kettle-docs: #swagger-ui has no data-openapi-url");
      return;
    }
    if (typeof window.SwaggerUIBundle !== "function") {
      console.error("kettle-docs: swagger-ui-bundle.js did not load");
      return;
    }
    var options = {
      url: data.openapiUrl,
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      // The default would load a badge from validator.swagger.io, a third
      // party that would learn the spec URL; the page makes no outside calls.
      validatorUrl: null
    };
    var key;
    for (key in BOOLEAN_OPTIONS) {
      if (Object.prototype.hasOwnProperty.call(data, key)) {
        options[BOOLEAN_OPTIONS[key]] = data[key] === "true";
      }
    }
    for (key in STRING_OPTIONS) {
      if (Object.prototype.hasOwnProperty.call(data, key)) {
        options[STRING_OPTIONS[key]] = data[key];
      }
    }
    window.ui = window.SwaggerUIBundle(options);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
