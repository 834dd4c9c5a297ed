/* Live preview for the article editor: posts the Markdown to the console's preview endpoint,
   which renders and sanitizes it exactly as the Help Center will, and shows the result. */
(function () {
  "use strict";
  var body = document.querySelector("textarea[data-preview-url]");
  if (!body) return;
  var target = document.getElementById(body.getAttribute("data-preview-target"));
  var form = body.form;
  var csrf = form && form.querySelector("input[name=csrf_token]");
  var timer = null;
  var latest = 0;

  function refresh() {
    var ticket = ++latest;
    fetch(body.getAttribute("data-preview-url"), {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.value : "" },
      body: JSON.stringify({ body: body.value }),
      credentials: "same-origin"
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        // The server's sanitizer (an allow-list) has cleaned this HTML.
        if (data && ticket === latest) target.innerHTML = data.html;
      })
      .catch(function () {});
  }

  body.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
  refresh();
})();
