/* Help Center search-as-you-type: an ARIA combobox over /api/v1/kb/suggest.
   Without JavaScript the search form still works; this only adds suggestions.
   Suggestions are built with textContent, never innerHTML. */
(function () {
  "use strict";

  function setup(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var url = input.getAttribute("data-suggest-url");
    if (!list || !url) return;
    var timer = null;
    var active = -1;
    var latest = 0;

    function options() { return list.querySelectorAll("[role=option]"); }

    function close() {
      list.hidden = true;
      list.textContent = "";
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var items = options();
      if (!items.length) return;
      active = (index + items.length) % items.length;
      items.forEach(function (item, i) { item.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", items[active].id);
    }

    function show(suggestions) {
      list.textContent = "";
      if (!suggestions.length) { close(); return; }
      suggestions.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.url = s.url;
        li.textContent = s.title;
        var where = document.createElement("span");
        where.className = "hc-suggest-section";
        where.textContent = s.section ? s.section.category.name + " › " + s.section.name : "";
        li.appendChild(where);
        li.addEventListener("mousedown", function (event) { event.preventDefault(); window.location.href = s.url; });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      active = -1;
    }

    function fetchSuggestions() {
      var q = input.value;
      if (q.trim().length < 2) { close(); return; }
      var ticket = ++latest;
      fetch(url + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
        .then(function (data) { if (ticket === latest) show(data.suggestions || []); })
        .catch(close);
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, 120);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Escape") { close(); }
      else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        window.location.href = options()[active].dataset.url;
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  document.querySelectorAll("input[data-suggest-url]").forEach(setup);
})();
