/* Practice Helpdesk help widget: the portal's one script tag.
 *
 *   <script src="https://help.example.com/widget.js" data-token="<widget JWT>" async></script>
 *
 * Adds a launcher button (in a shadow root: the page's CSS and ours never meet) that opens the
 * help panel in an iframe served by the helpdesk. The two talk by postMessage, each checking the
 * other's window and origin. The token is handed to the panel by postMessage, never in a URL.
 *
 * window.PracticeHelp: open(), close(), toggle(), isOpen(), identify(token),
 *   suggest({labels, page, reference}), openArticle(id), startChat(), on(event, fn), off(event, fn),
 *   onTokenExpired(fn: () => Promise<token>). Events: "ready", "open", "close", "unread" (count).
 * Settings may be given before the script loads: window.PracticeHelpSettings = {token, onTokenExpired}.
 */
(function () {
  "use strict";
  if (window.PracticeHelp && window.PracticeHelp.version) return;
  var S = __STRINGS__;
  var script = document.currentScript || document.querySelector("script[src*='/widget.js']");
  var origin = new URL(script.src, location.href).origin;
  var settings = window.PracticeHelpSettings || {};
  var token = script.getAttribute("data-token") || settings.token || null;
  var refresh = settings.onTokenExpired || null;
  var handlers = {}, pending = [], frame = null, ready = false, opened = false, refreshing = null;

  var host = document.createElement("div");
  host.setAttribute("data-practice-help", "");
  host.style.setProperty("display", "block", "important");
  var root = host.attachShadow({ mode: "open" });
  var css = "" +
    ":host{all:initial}" +
    ".launcher{all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;align-items:center;gap:8px;" +
    "padding:12px 18px;border-radius:999px;background:#0b5cad;color:#fff;font:600 16px/1.2 system-ui,sans-serif;cursor:pointer;" +
    "box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
    ".launcher:hover{background:#094c8f}.launcher:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}" +
    ".badge{all:initial;min-width:20px;padding:2px 6px;border-radius:10px;background:#c4281c;color:#fff;font:700 12px/16px system-ui,sans-serif;text-align:center}" +
    ".badge[hidden]{display:none}" +
    ".panel{position:fixed;right:20px;bottom:84px;z-index:2147483001;width:400px;height:min(680px,calc(100vh - 110px));" +
    "border-radius:12px;overflow:hidden;background:#fff;box-shadow:0 8px 30px rgba(0,0,0,.3)}" +
    ".panel[hidden]{display:none}iframe{display:block;border:0;width:100%;height:100%}" +
    "@media (max-width:480px){.panel{inset:0;width:100%;height:100%;border-radius:0}}";
  // A constructed stylesheet: a portal whose CSP forbids inline <style> still styles the launcher.
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    var style = document.createElement("style");
    style.textContent = css;
    root.appendChild(style);
  }
  root.innerHTML += "<button type='button' class='launcher' aria-expanded='false' aria-haspopup='dialog'>" +
    "<span aria-hidden='true'>?</span><span class='label'></span><span class='badge' hidden></span></button>" +
    "<div class='panel' hidden></div>";
  var launcher = root.querySelector(".launcher"), badge = root.querySelector(".badge"), panel = root.querySelector(".panel");
  root.querySelector(".label").textContent = S.launcher_label;

  function emit(name, value) {
    (handlers[name] || []).slice().forEach(function (fn) { try { fn(value); } catch (e) { setTimeout(function () { throw e; }); } });
  }

  function post(message) {
    if (ready) frame.contentWindow.postMessage(message, origin);
    else pending.push(message);
  }

  function ensureFrame() {
    if (frame) return;
    frame = document.createElement("iframe");
    frame.title = S.frame_title;
    frame.setAttribute("allow", "clipboard-write");
    frame.src = origin + "/widget/panel";
    panel.appendChild(frame);
  }

  function open() {
    ensureFrame();
    if (opened) return;
    opened = true;
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    frame.focus();
    post({ type: "ph:open" });
    emit("open");
  }

  function close() {
    if (!opened) return;
    opened = false;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    post({ type: "ph:closed" });
    launcher.focus();
    emit("close");
  }

  function identify(next) {
    if (typeof next !== "string" || !next) return;
    token = next;
    if (frame) post({ type: "ph:token", token: token });
  }

  function renewToken() {
    if (!refresh || refreshing) return;
    refreshing = Promise.resolve().then(refresh).then(identify, function () { /* the panel says the session ended */ })
      .then(function () { refreshing = null; });
  }

  window.addEventListener("message", function (event) {
    if (!frame || event.source !== frame.contentWindow || event.origin !== origin) return;
    var data = event.data || {};
    if (data.type === "ph:ready") {
      ready = true;
      if (token) frame.contentWindow.postMessage({ type: "ph:token", token: token }, origin);
      pending.splice(0).forEach(post);
      emit("ready");
    } else if (data.type === "ph:close") close();
    else if (data.type === "ph:token-expired") renewToken();
    else if (data.type === "ph:unread" && typeof data.count === "number") {
      badge.hidden = data.count === 0;
      badge.textContent = data.count ? String(data.count) : "";
      launcher.setAttribute("aria-label", data.count ? S.launcher_label + ", " + S.unread.replace("{count}", data.count) : S.launcher_label);
      emit("unread", data.count);
    }
  });

  launcher.addEventListener("click", function () { if (opened) close(); else open(); });
  launcher.addEventListener("pointerenter", ensureFrame);  // warm the panel up on intent
  document.addEventListener("keydown", function (event) { if (event.key === "Escape" && opened) close(); });

  window.PracticeHelp = {
    version: 1,
    open: open,
    close: close,
    toggle: function () { if (opened) close(); else open(); },
    isOpen: function () { return opened; },
    identify: identify,
    suggest: function (context) {
      var c = context || {};
      post({ type: "ph:suggest", context: { labels: c.labels || [], page: c.page || location.pathname, reference: c.reference || "" } });
    },
    openArticle: function (id) { open(); post({ type: "ph:article", id: id }); },
    startChat: function () { open(); post({ type: "ph:chat" }); },
    onTokenExpired: function (fn) { refresh = fn; },
    on: function (name, fn) { (handlers[name] = handlers[name] || []).push(fn); },
    off: function (name, fn) { handlers[name] = (handlers[name] || []).filter(function (x) { return x !== fn; }); }
  };

  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
