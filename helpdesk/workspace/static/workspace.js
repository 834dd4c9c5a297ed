/* The console's workspace: counts in the navigation, the tab title and favicon showing them,
   an optional sound and desktop notification when something new arrives, and keyboard shortcuts.
   No inline script: the page's configuration is read from #workspace-config's data attributes. */
(function () {
  "use strict";
  var config = document.getElementById("workspace-config");
  if (!config) { return; }
  var countsUrl = config.dataset.countsUrl;
  var pollMs = Math.max(1, parseFloat(config.dataset.pollSeconds || "10")) * 1000;
  var soundOn = config.dataset.sound === "on";
  var desktopOn = config.dataset.desktop === "on";
  var baseTitle = document.title.replace(/^\(\d+\)\s+/, "");
  var favicon = document.querySelector("link[data-workspace-favicon]");
  var plainIcon = favicon ? favicon.href : null;
  var last = null;

  function attention(c) { return (c.waiting_chats || 0) + (c.my_unread_chats || 0); }

  function drawFavicon(n) {
    if (!favicon) { return; }
    if (!n) { favicon.href = plainIcon; favicon.dataset.count = "0"; return; }
    var canvas = document.createElement("canvas");
    canvas.width = canvas.height = 32;
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#1f4e8c"; ctx.fillRect(0, 0, 32, 32);
    ctx.fillStyle = "#fff"; ctx.fillRect(12, 5, 8, 22); ctx.fillRect(5, 12, 22, 8);
    ctx.fillStyle = "#c62828"; ctx.beginPath(); ctx.arc(22, 10, 10, 0, 2 * Math.PI); ctx.fill();
    ctx.fillStyle = "#fff"; ctx.font = "bold 14px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
    ctx.fillText(n > 9 ? "9+" : String(n), 22, 11);
    favicon.href = canvas.toDataURL("image/png");
    favicon.dataset.count = String(n);
  }

  function beep() {
    try {
      var Audio = window.AudioContext || window.webkitAudioContext;
      var audio = new Audio(), tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = 880; gain.gain.value = 0.08;
      tone.connect(gain); gain.connect(audio.destination);
      tone.start(); tone.stop(audio.currentTime + 0.18);
    } catch (e) { /* no audio: the title and favicon still say it */ }
  }

  function notify(text) {
    document.documentElement.dataset.lastNotice = text;
    if (soundOn) { beep(); }
    if (desktopOn && "Notification" in window && Notification.permission === "granted") {
      try { new Notification("Practice Helpdesk", { body: text, tag: "helpdesk-counts" }); } catch (e) { /* ignore */ }
    }
  }

  function render(c) {
    document.querySelectorAll("[data-count]").forEach(function (el) {
      var value = c[el.dataset.count] || 0;
      var shown = el.querySelector("[data-count-value]");
      if (shown) { shown.textContent = String(value); }
      el.hidden = !value;
    });
    var n = attention(c);
    document.title = (n ? "(" + n + ") " : "") + baseTitle;
    drawFavicon(n);
    if (last) {
      if ((c.waiting_chats || 0) > (last.waiting_chats || 0)) { notify("A new chat is waiting."); }
      else if ((c.my_unread_chats || 0) > (last.my_unread_chats || 0)) { notify("A new message in one of your chats."); }
    }
    last = c;
  }

  function refresh() {
    return fetch(countsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) { if (c) { render(c); } })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }

  window.helpdeskWorkspace = { refresh: refresh };
  refresh();
  setInterval(refresh, pollMs);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { refresh(); } });
  if (desktopOn && "Notification" in window && Notification.permission === "default") {
    document.addEventListener("click", function ask() {
      document.removeEventListener("click", ask);
      Notification.requestPermission();
    });
  }

  /* --- keyboard shortcuts ------------------------------------------------------------------ */
  var help = document.getElementById("shortcuts-help");

  function typing(target) {
    var tag = (target && target.tagName) || "";
    return /^(INPUT|TEXTAREA|SELECT)$/.test(tag) || (target && target.isContentEditable);
  }

  function visible(el) { return el && !el.hidden && !el.disabled && el.offsetParent !== null; }

  function items() {
    var list = document.querySelectorAll("#queue li, #mine li, main [data-nav-item], main tbody tr");
    return Array.prototype.filter.call(list, visible);
  }

  function move(step) {
    var all = items();
    if (!all.length) { return; }
    var at = all.findIndex(function (el) { return el.classList.contains("kbd-current"); });
    var next = all[Math.min(all.length - 1, Math.max(0, at < 0 ? (step > 0 ? 0 : all.length - 1) : at + step))];
    all.forEach(function (el) { el.classList.remove("kbd-current"); el.removeAttribute("aria-current"); });
    next.classList.add("kbd-current");
    next.setAttribute("aria-current", "true");
    var focusable = next.querySelector("a, button") || next;
    if (focusable === next) { next.tabIndex = -1; }
    focusable.focus();
    next.scrollIntoView({ block: "nearest" });
  }

  function press(selectors) {
    for (var i = 0; i < selectors.length; i++) {
      var el = document.querySelector(selectors[i]);
      if (visible(el)) { if (el.tagName === "SELECT") { el.focus(); } else { el.click(); } return true; }
    }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    var untouched = event.key === "/" && event.target && event.target.hasAttribute &&
      event.target.hasAttribute("autofocus") && !event.target.value;  /* a page's autofocused, empty box */
    if (event.ctrlKey || event.metaKey || event.altKey || (typing(event.target) && !untouched)) { return; }
    if (help && help.open && event.key !== "?") { return; }
    var handled = true;
    switch (event.key) {
      case "/": var box = document.getElementById("header-search-q"); if (box) { box.focus(); box.select(); } break;
      case "?": if (help) { if (help.open) { help.close(); } else { help.showModal(); } } break;
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": handled = press(["[data-shortcut='a']", "#accept", "#accept-next"]); break;
      case "e": handled = press(["[data-shortcut='e']", "#close"]); break;
      case "t": handled = press(["[data-shortcut='t']", "#transfer-to"]); break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });
})();
