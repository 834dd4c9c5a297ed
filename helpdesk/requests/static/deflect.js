// Deflection: while the subject is typed, suggest Help Center articles (GET <data-deflect-url>?q=).
(function () {
  "use strict";
  var input = document.querySelector("[data-deflect-url]");
  var box = document.getElementById("suggestions");
  if (!input || !box || !window.fetch) { return; }
  var list = box.querySelector("ul");
  var timer = null;
  var latest = 0;

  function items(data) {
    if (Array.isArray(data)) { return data; }
    return (data && (data.suggestions || data.results || data.articles)) || [];
  }

  function show(found) {
    list.textContent = "";
    found.slice(0, 5).forEach(function (article) {
      var url = article.url || article.html_url;
      if (!article.title || !url) { return; }
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = url;
      a.textContent = article.title;  // text, never HTML
      a.target = "_blank";
      a.rel = "noopener";
      li.appendChild(a);
      list.appendChild(li);
    });
    box.hidden = list.children.length === 0;
  }

  function ask() {
    var q = input.value.trim();
    var ticket = ++latest;
    if (q.length < 3) { show([]); return; }
    fetch(input.getAttribute("data-deflect-url") + "?q=" + encodeURIComponent(q), {headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (data) { if (ticket === latest) { show(items(data)); } })
      .catch(function () { if (ticket === latest) { show([]); } });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 200);
  });
  if (input.value) { ask(); }
})();
