/* The demo portal's side of the embedding: renew the token when asked, pass context, follow events. */
(function () {
  "use strict";
  var practice = new URLSearchParams(location.search).get("practice") || "";
  window.PracticeHelpSettings = {
    onTokenExpired: function () {
      return fetch("/demo/portal/token?practice=" + encodeURIComponent(practice), { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error("no token"); return r.json(); })
        .then(function (body) { return body.token; });
    }
  };
  function whenReady(fn) {
    if (window.PracticeHelp) fn(window.PracticeHelp);
    else setTimeout(function () { whenReady(fn); }, 20);
  }
  whenReady(function (help) {
    help.suggest({ labels: ["bookings"], page: "/bookings" });
    help.on("unread", function (count) { document.getElementById("portal-unread").textContent = count ? count + " unread chat message(s)" : ""; });
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLElement)) return;
    if (target.classList.contains("portal-help")) {
      whenReady(function (help) { help.suggest({ labels: ["bookings"], page: "/bookings", reference: target.getAttribute("data-reference") }); help.open(); });
    } else if (target.id === "portal-chat") whenReady(function (help) { help.startChat(); });
    else if (target.id === "portal-open") whenReady(function (help) { help.open(); });
  });
})();
