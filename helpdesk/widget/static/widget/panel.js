/* The help widget's panel: a small vanilla app inside the portal's iframe.
 *
 * - The widget token comes from the embedding page by postMessage({type: "ph:token"}), accepted
 *   only from the parent window and an allowed origin (the config's "origins"); it stays in memory
 *   and goes to the API as Authorization: Bearer, never in a URL (the chat frame gets it in the
 *   fragment, which browsers never send).
 * - An expired token: the panel asks the portal ("ph:token-expired"), which calls its
 *   onTokenExpired callback and posts the new token back; the request is retried once.
 * - Every string comes from the config (helpdesk/widget/strings.py); nothing builds HTML from
 *   data except the Help Center's article bodies, which the knowledge base sanitizes on the way in.
 */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("widget-config").textContent);
  var T = config.strings;
  var $ = function (id) { return document.getElementById(id); };
  var state = {
    token: null, claims: {}, parentOrigin: null, view: "home", history: [], open: true,
    context: {}, article: null, unread: 0, chatFrame: null, searchSeq: 0, suggestSeq: 0
  };
  var tokenWaiters = [];

  function fmt(key, values) {
    return (T[key] || key).replace(/\{(\w+)\}/g, function (_, name) { return values && values[name] !== undefined ? values[name] : ""; });
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function notice(text) { $("notice").textContent = text || ""; }

  // --- talking to the portal -----------------------------------------------------------------

  function toParent(message) {
    if (window.parent === window) return;
    // Before the portal has proven its origin only "ready" goes out, and it carries nothing.
    if (state.parentOrigin) window.parent.postMessage(message, state.parentOrigin);
    else if (message.type === "ph:ready") window.parent.postMessage(message, "*");
  }

  function decode(token) {
    try { return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); } catch (e) { return {}; }
  }

  function setToken(token) {
    var previous = state.claims;
    state.token = token;
    state.claims = decode(token);
    tokenWaiters.splice(0).forEach(function (resolve) { resolve(token); });
    if (!previous.sub) { start(); return; }
    if (previous.sub !== state.claims.sub || previous.practice !== state.claims.practice) {
      // identify(): somebody else now, so forget what the last person saw
      if (state.chatFrame) { state.chatFrame.remove(); state.chatFrame = null; }
      setUnread(0);
      start();
    } else if (state.chatFrame) {
      // a renewed token for the same person: the chat reconnects with it (same origin as this panel)
      state.chatFrame.contentWindow.postMessage({ type: "helpdesk:token", token: token }, window.location.origin);
    }
  }

  function freshToken() {
    return new Promise(function (resolve, reject) {
      tokenWaiters.push(resolve);
      toParent({ type: "ph:token-expired" });
      setTimeout(function () { reject({ code: "token_expired", message: T.error_signed_out }); }, 15000);
    });
  }

  // The chat frame's socket was refused for an expired token: renew it through the portal.
  window.addEventListener("message", function (event) {
    if (!state.chatFrame || event.source !== state.chatFrame.contentWindow || event.origin !== window.location.origin) return;
    if ((event.data || {}).type === "helpdesk:token-expired") freshToken().catch(function () { /* signed out: the chat says so */ });
  });

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || config.origins.indexOf(event.origin) === -1) return;
    var data = event.data || {};
    if (typeof data.type !== "string" || data.type.slice(0, 3) !== "ph:") return;
    state.parentOrigin = event.origin;
    if (data.type === "ph:token" && typeof data.token === "string") setToken(data.token);
    else if (data.type === "ph:open") { state.open = true; focusView(); clearUnreadIfSeen(); }
    else if (data.type === "ph:closed") state.open = false;
    else if (data.type === "ph:suggest") { state.context = data.context || {}; if (state.token) loadHome(); show("home"); }
    else if (data.type === "ph:article") openArticle(Number(data.id));
    else if (data.type === "ph:chat") show("chat");
  });

  // --- the API ------------------------------------------------------------------------------

  function api(method, path, body, retried) {
    if (!state.token) return new Promise(function (resolve) { tokenWaiters.push(resolve); }).then(function () { return api(method, path, body); });
    var init = { method: method, headers: { "Authorization": "Bearer " + state.token, "Accept": "application/json" }, credentials: "omit" };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (payload) {
        if (response.ok) return payload;
        var error = (payload && payload.error) || { code: "http_" + response.status, message: T.error_generic };
        if (response.status === 401 && !retried && (error.code === "token_expired" || error.code === "invalid_token")) {
          return freshToken().then(function () { return api(method, path, body, true); });
        }
        throw error;
      });
    }, function () { throw { code: "offline", message: T.error_offline }; });
  }

  function query(params) {
    return Object.keys(params).filter(function (k) { return params[k]; }).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]);
    }).join("&");
  }

  function failed(error) { notice((error && error.message) || T.error_generic); }

  // --- views ----------------------------------------------------------------------------------

  var VIEWS = ["home", "article", "check", "chat", "request", "mine"];
  var FIRST_FOCUS = { home: "search-input", article: "article-title", check: "check-input", chat: "chat-title",
                      request: "request-subject", mine: "mine-title" };

  function show(view, remember) {
    if (remember && state.view !== view) state.history.push(state.view);
    if (!remember) state.history = [];
    state.view = view;
    VIEWS.forEach(function (name) { $("view-" + name).hidden = name !== view; });
    Array.prototype.forEach.call(document.querySelectorAll(".panel-nav button"), function (button) {
      if (button.getAttribute("data-view") === view) button.setAttribute("aria-current", "page");
      else button.removeAttribute("aria-current");
    });
    $("back").hidden = state.history.length === 0;
    notice("");
    if (view === "chat") openChat();
    if (view === "mine") loadMine();
    clearUnreadIfSeen();
    focusView();
  }

  function focusView() {
    var target = $(FIRST_FOCUS[state.view]);
    if (target) target.focus();
  }

  function articleLink(article, onOpen) {
    return el("li", {}, [el("button", { type: "button", className: "link-button", "data-article-id": String(article.id),
      onclick: function () { (onOpen || function () {})(); openArticle(article.id); } }, [article.title])]);
  }

  // --- home: banners, suggestions, search -----------------------------------------------------

  function start() {
    if (state.claims.email && !$("request-email").value) $("request-email").value = state.claims.email;
    loadHome();
  }

  function loadHome() {
    var ctx = state.context || {};
    var labels = Array.isArray(ctx.labels) ? ctx.labels.join(",") : (ctx.labels || "");
    api("GET", "/api/v1/me/widget/home?" + query({ labels: labels, page: ctx.page, reference: ctx.reference })).then(function (home) {
      $("greeting").textContent = home.user && home.user.name ? fmt("greeting", { name: home.user.name.split(" ")[0] }) : T.greeting_anonymous;
      var banners = clear($("banners"));
      (home.banners || []).forEach(function (banner) {
        banners.appendChild(el("div", { className: "banner banner-" + banner.severity, role: banner.severity === "alert" ? "alert" : null,
                                        "data-kind": banner.kind }, [
          el("p", { text: banner.text }),
          banner.article && banner.article.id ? el("button", { type: "button", className: "link-button",
            onclick: function () { openArticle(banner.article.id); } }, [fmt("banner_read", { title: banner.article.title })]) : null
        ]));
      });
      if (home.booking) {
        banners.appendChild(el("div", { className: "banner banner-info", "data-kind": "reference" }, [
          el("p", { text: fmt("banner_reference", { reference: home.booking.reference }) }),
          el("button", { type: "button", className: "button", onclick: function () { checkBooking(home.booking.reference); } },
             [fmt("banner_check_it", { reference: home.booking.reference })])
        ]));
      }
      showIncident(home.incident);
      showAtRisk(home.at_risk);
      $("suggestions-title").textContent = home.contextual ? T.for_this_page : T.suggested;
      var list = clear($("suggestions"));
      (home.suggestions || []).forEach(function (a) { list.appendChild(articleLink(a)); });
    }, failed);
  }

  // The incident banner (open, or resolved in the last day) and today's bookings at risk.
  function showIncident(incident) {
    var box = $("incident-banner");
    if (!incident) { box.hidden = true; box.textContent = ""; box.removeAttribute("data-state"); return; }
    box.hidden = false;
    box.setAttribute("data-state", incident.state);
    box.className = "banner " + (incident.state === "open" ? "banner-alert" : "banner-info");
    box.textContent = incident.state === "open"
      ? fmt("incident_open", { title: incident.title, since: incident.started_local, tz: incident.timezone })
      : fmt("incident_resolved", { title: incident.title, resolved: incident.resolved_local, tz: incident.timezone });
  }
  function showAtRisk(atRisk) {
    var card = $("at-risk-card"), list = clear($("at-risk-list"));
    var rows = (atRisk && atRisk.bookings) || [];
    card.hidden = rows.length === 0;
    $("at-risk-title").textContent = rows.length === 1 ? T.at_risk_title_one : fmt("at_risk_title", { count: rows.length });
    rows.forEach(function (b) {
      list.appendChild(el("li", {}, [el("button", { type: "button", className: "link-button", "data-reference": b.reference,
        onclick: function () { checkBooking(b.reference); } },
        [fmt("at_risk_row", { time: b.appointment_time, reference: b.reference, summary: b.summary })])]));
    });
  }
  function pollIncident() {
    if (!state.token) return;
    api("GET", "/api/v1/me/incident").then(function (body) { showIncident(body.incident); }, function () { /* next time */ });
  }
  setInterval(pollIncident, 5000);

  function snippet(html) {
    // The Help Center's snippet: escaped text with <mark> around the matches. Rebuilt as nodes.
    var out = el("span", { className: "snippet" }), decoder = document.createElement("textarea");
    html.split(/(<mark>|<\/mark>)/).reduce(function (marked, part) {
      if (part === "<mark>") return true;
      if (part === "</mark>") return false;
      decoder.innerHTML = part;
      out.appendChild(marked ? el("mark", { text: decoder.value }) : document.createTextNode(decoder.value));
      return marked;
    }, false);
    return out;
  }

  var searchTimer = null;
  $("search-input").addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 150);
  });
  $("search-form").addEventListener("submit", function (event) { event.preventDefault(); clearTimeout(searchTimer); search(); ask(); });
  // What was typed while this script was still loading fired no input event: search it now.
  if ($("search-input").value.trim()) search();

  // The answer desk (chat/assistant): on Enter the one box also answers "RVD-CDSSKSX", "Grace Cooper
  // 29 Dec" or "collision alerts not coming" from the practice's own bookings and the articles.
  function ask() {
    var q = $("search-input").value.trim(), box = $("assistant-answer");
    if (!q) { box.hidden = true; return; }
    api("POST", "/api/v1/me/assistant/ask", { text: q }).then(function (found) {
      if ($("search-input").value.trim() !== q) return;
      clear(box);
      box.appendChild(el("p", { className: "assistant-text" }, [found.answer]));
      var data = found.data || {};
      if (data.reference) box.appendChild(el("button", { type: "button", className: "button", onclick: function () { checkBooking(data.reference); } }, [fmt("banner_check_it", { reference: data.reference })]));
      (data.choices || []).forEach(function (c) {
        box.appendChild(el("button", { type: "button", className: "button choice", onclick: function () { checkBooking(c.reference); } }, [c.label]));
      });
      var links = el("ul", { className: "links" });
      (data.articles || []).forEach(function (a) { links.appendChild(articleLink(a)); });
      box.appendChild(links);
      box.hidden = false;
    }, function () { box.hidden = true; });
  }

  function search() {
    var q = $("search-input").value.trim(), seq = ++state.searchSeq;
    var results = $("search-results");
    if (!q) { clear(results); $("search-count").textContent = ""; $("suggestions-block").hidden = false; return; }
    api("GET", "/api/v1/kb/search?" + query({ q: q, per_page: "8" })).then(function (found) {
      if (seq !== state.searchSeq) return;  // an older answer arriving late
      clear(results);
      $("suggestions-block").hidden = true;
      $("search-count").textContent = found.results.length ? fmt("search_count", { count: found.total }) : T.search_none;
      found.results.forEach(function (r) {
        var item = articleLink(r);
        if (r.snippet) item.appendChild(el("p", { className: "small quiet" }, [snippet(r.snippet)]));
        results.appendChild(item);
      });
    }, failed);
  }

  // --- articles ---------------------------------------------------------------------------------

  function openArticle(id) {
    if (!id) return;
    show("article", true);
    $("article-title").textContent = T.article_loading;
    clear($("article-body"));
    ["vote-tally", "follow-status", "article-section"].forEach(function (x) { $(x).textContent = ""; });
    api("GET", "/api/v1/kb/articles/" + encodeURIComponent(id)).then(function (article) {
      state.article = article;
      $("article-title").textContent = article.title;
      $("article-section").textContent = article.section ? article.section.name : "";
      // Sanitized by the knowledge base when it was written (an allow-list). A cross-reference to
      // another article opens it here in the panel; any other link opens outside it.
      $("article-body").innerHTML = article.body_html;
      Array.prototype.forEach.call($("article-body").querySelectorAll("a[href]"), function (a) {
        var linked = Number(a.getAttribute("data-article-id"));
        if (linked) a.addEventListener("click", function (event) { event.preventDefault(); openArticle(linked); });
        else { a.setAttribute("target", "_blank"); a.setAttribute("rel", "noopener"); }
      });
      $("article-link").setAttribute("href", article.url);
      ["vote-yes", "vote-no", "follow"].forEach(function (x) { $(x).setAttribute("aria-pressed", "false"); });
      $("follow").textContent = T.follow;
      tally(article.votes);
      $("article-title").focus();
    }, failed);
  }

  function tally(votes) {
    var total = votes.up + votes.down;
    $("vote-tally").textContent = total ? fmt("votes_tally", { up: votes.up, total: total }) : "";
  }

  function vote(helpful) {
    if (!state.article) return;
    api("POST", "/api/v1/kb/articles/" + state.article.id + "/vote", { helpful: helpful }).then(function (answer) {
      $("vote-yes").setAttribute("aria-pressed", String(helpful));
      $("vote-no").setAttribute("aria-pressed", String(!helpful));
      tally(answer.votes);
      $("vote-tally").textContent = T.vote_thanks + " " + $("vote-tally").textContent;
    }, failed);
  }
  $("vote-yes").addEventListener("click", function () { vote(true); });
  $("vote-no").addEventListener("click", function () { vote(false); });
  $("follow").addEventListener("click", function () {
    if (!state.article) return;
    var following = $("follow").getAttribute("aria-pressed") === "true";
    api(following ? "DELETE" : "POST", "/api/v1/kb/articles/" + state.article.id + "/follow", {}).then(function () {
      $("follow").setAttribute("aria-pressed", String(!following));
      $("follow").textContent = following ? T.follow : T.unfollow;
      $("follow-status").textContent = following ? T.not_following : T.following;
    }, failed);
  });

  // --- check a booking --------------------------------------------------------------------------

  $("check-form").addEventListener("submit", function (event) {
    event.preventDefault();
    checkBooking($("check-input").value);
  });

  function checkBooking(q) {
    q = (q || "").trim();
    if (state.view !== "check") show("check");
    $("check-input").value = q;
    if (!q) return;
    var out = clear($("check-result"));
    out.appendChild(el("p", { className: "quiet small", text: T.check_loading }));
    api("GET", "/api/v1/me/widget/check?" + query({ q: q })).then(function (answer) {
      clear(out);
      if (answer.diagnosis) { out.appendChild(renderDiagnosis(answer.diagnosis)); return; }
      if (!answer.bookings.length) { out.appendChild(el("p", { text: fmt("check_none", { q: q }) })); return; }
      out.appendChild(el("p", { text: fmt("check_pick", { count: answer.bookings.length }) }));
      out.appendChild(el("ul", { className: "links" }, answer.bookings.map(function (b) {
        var when = new Date(b.appointment_at);
        return el("li", {}, [el("button", { type: "button", className: "link-button", onclick: function () { checkBooking(b.reference); } },
          [b.reference + " · " + (b.patient ? b.patient.name : "") + " · " + when.toLocaleString([], { dateStyle: "medium", timeStyle: "short" })])]);
      })));
    }, function (error) { clear(out); failed(error); });
  }

  function renderDiagnosis(d) {
    var causes = d.causes || [];
    var box = el("article", { className: "diagnosis", "aria-labelledby": "diagnosis-title" }, [
      el("h3", { id: "diagnosis-title", text: d.practice_summary, tabindex: "-1" }),
      el("p", { className: "small quiet", text: fmt("appointment", { when: d.local.appointment_at, practitioner: d.practitioner,
        type: d.appointment_type, patient: d.patient ? d.patient.name : "" }) }),
      el("h4", { text: T.ways_title }),
      el("ul", { className: "ways" }, d.ways.map(function (way) {
        return el("li", { className: way.received ? "way way-ok" : "way way-missed" }, [
          el("strong", { text: way.text }),
          el("span", { className: "small", text: way.detail ? " · " + way.detail : "" })
        ]);
      }))
    ]);
    var failedInsert = causes.some(function (c) { return /^diary_(collision|connection_lost|patient_match|rejected)$/.test(c); });
    if (failedInsert) {
      box.appendChild(el("h4", { text: T.alerted_title }));
      var alerts = d.practice_alerted || [];
      if (alerts.length) {
        box.appendChild(el("ul", {}, alerts.map(function (a, i) {
          return el("li", { text: fmt("alerted_item", { kind: (a.kind || "").replace(/_/g, " "), recipient: a.recipient, at: d.local.alerts[i] }) });
        })));
      }
      if (d.alerted_note) box.appendChild(el("p", { text: d.alerted_note }));
    }
    if ((d.actions || []).length) {
      box.appendChild(el("h4", { text: T.next_steps }));
      box.appendChild(el("ol", { className: "actions" }, d.actions.map(function (a) { return el("li", { text: a.text }); })));
    }
    var articles = (d.articles || []).filter(function (a) { return a.id; });
    if (articles.length) {
      box.appendChild(el("h4", { text: T.read_more }));
      box.appendChild(el("ul", { className: "links" }, articles.map(function (a) { return articleLink(a); })));
    }
    box.appendChild(el("button", { type: "button", className: "button", onclick: function () {
      $("request-reference").value = d.reference;
      show("chat");
    } }, [T.ask_about_booking]));
    return box;
  }

  // --- chat: the chat package's widget page, framed here --------------------------------------

  function openChat() {
    if (state.chatFrame || !state.token) return;
    var frame = el("iframe", { title: T.chat_title, className: "chat-frame", id: "chat-frame" });
    frame.src = config.chat_url + "#token=" + encodeURIComponent(state.token);  // a fragment: never sent to a server
    frame.addEventListener("load", function () { watchChat(frame); $("chat-loading").hidden = true; });
    state.chatFrame = frame;
    $("chat-holder").appendChild(frame);
  }

  function watchChat(frame) {
    var doc;
    try { doc = frame.contentDocument; } catch (e) { return; }
    if (!doc) return;
    doc.addEventListener("keydown", onKeydown);  // Escape closes the panel from inside the chat too
    var list = doc.getElementById("messages");
    if (!list) return;
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        Array.prototype.forEach.call(record.addedNodes, function (node) {
          if (node.nodeType === 1 && /\bfrom-agent\b/.test(node.className) && !chatSeen()) setUnread(state.unread + 1);
        });
      });
    }).observe(list, { childList: true });
  }

  function chatSeen() { return state.open && state.view === "chat" && !document.hidden; }
  function clearUnreadIfSeen() { if (state.unread && chatSeen()) setUnread(0); }
  document.addEventListener("visibilitychange", clearUnreadIfSeen);

  function setUnread(count) {
    state.unread = count;
    var badge = $("chat-badge");
    badge.hidden = count === 0;
    badge.textContent = count ? fmt("unread", { count: count }) : "";
    toParent({ type: "ph:unread", count: count });
  }

  // --- submit a request, my requests -----------------------------------------------------------

  var suggestTimer = null;
  $("request-subject").addEventListener("input", function () {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(function () {
      var q = $("request-subject").value.trim(), seq = ++state.suggestSeq;
      if (q.length < 3) { $("request-suggest").hidden = true; return; }
      api("GET", "/api/v1/kb/suggest?" + query({ q: q, limit: "4" })).then(function (found) {
        if (seq !== state.suggestSeq) return;
        var list = clear($("request-suggestions"));
        found.suggestions.forEach(function (a) { list.appendChild(articleLink(a)); });
        $("request-suggest").hidden = found.suggestions.length === 0;
      }, function () {});
    }, 200);
  });

  $("request-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var button = event.target.querySelector("button[type=submit]");
    button.disabled = true;
    api("POST", "/api/v1/requests", {
      subject: $("request-subject").value, description: $("request-description").value,
      booking_reference: $("request-reference").value, email: $("request-email").value
    }).then(function (created) {
      event.target.reset();
      if (state.claims.email) $("request-email").value = state.claims.email;
      $("request-suggest").hidden = true;
      $("request-sent").textContent = fmt("request_sent", { id: created.id });
    }, failed).then(function () { button.disabled = false; });
  });

  // A Help Center page (an article to comment on, a request to reply to) opens in a new tab with
  // the same person signed in: the panel asks for a one-time sign-in link (short-lived, used once)
  // and sends the tab there. The widget token itself never leaves the panel.
  function openInHelpCenter(path) {
    var tab = window.open("", "_blank");  // now, while the click still counts as the user's
    api("POST", "/api/v1/kb/session-handoff", { next: path }).then(function (handoff) {
      if (!tab) { window.open(handoff.url, "_blank", "noopener"); return; }
      tab.opener = null;
      tab.location.href = handoff.url;
    }, function (error) { if (tab) tab.close(); failed(error); });
  }
  $("article-link").addEventListener("click", function (event) {
    event.preventDefault();
    if (state.article) openInHelpCenter(state.article.url);
  });

  function loadMine() {
    $("mine-status").textContent = T.mine_loading;
    api("GET", "/api/v1/requests?per_page=50").then(function (found) {
      var list = clear($("mine-list"));
      $("mine-status").textContent = found.requests.length ? "" : T.mine_none;
      found.requests.forEach(function (r) {
        list.appendChild(el("li", { className: "request", "data-request-id": String(r.id) }, [
          el("strong", { text: r.subject }),
          el("span", { className: "small quiet", text: " #" + r.id + " · " + (T["status_" + r.status] || r.status) + " · " +
            new Date(r.updated_at || r.created_at).toLocaleDateString([], { dateStyle: "medium" }) }),
          el("button", { type: "button", className: "link-button", text: T.mine_open,
                         "aria-label": T.mine_open + ": " + r.subject, onclick: function () { openInHelpCenter("/hc/requests/" + r.id); } })
        ]));
      });
    }, function (error) { $("mine-status").textContent = ""; failed(error); });
  }

  // --- chrome, keyboard, focus trap --------------------------------------------------------------

  Array.prototype.forEach.call(document.querySelectorAll(".panel-nav button"), function (button) {
    button.addEventListener("click", function () { show(button.getAttribute("data-view")); });
  });
  $("back").addEventListener("click", function () { show(state.history.pop() || "home", false); });
  $("close").addEventListener("click", function () { toParent({ type: "ph:close" }); });

  function focusables() {
    return Array.prototype.filter.call(document.querySelectorAll(
      "a[href], button:not([disabled]), input:not([disabled]), textarea:not([disabled]), select, iframe, [tabindex='0']"
    ), function (node) { return node.offsetParent !== null || node === document.activeElement; });
  }

  function onKeydown(event) {
    if (event.key === "Escape") { event.preventDefault(); toParent({ type: "ph:close" }); return; }
    if (event.key !== "Tab" || event.currentTarget !== document) return;
    var items = focusables();
    if (!items.length) return;
    var first = items[0], last = items[items.length - 1];
    if (event.shiftKey && (document.activeElement === first || document.activeElement === document.body)) { event.preventDefault(); last.focus(); }
    else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
  }
  document.addEventListener("keydown", onKeydown);

  // Standalone (opened without a portal, e.g. from a link): the token may come in the fragment.
  var fromHash = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (fromHash) { history.replaceState(null, "", window.location.pathname); setToken(fromHash); }
  toParent({ type: "ph:ready" });
})();
