/* Agent console chat: the queue, my chats with unread counts, the conversation pane, and the
 * practice's booking diagnostics beside it (live over the `diagnostics` event). */
(function () {
  "use strict";
  var H = window.HelpdeskChat, el = H.el;
  var root = document.getElementById("chat-console");
  var me = { id: Number(root.dataset.agentId), name: root.dataset.agentName };
  var client = new H.ChatClient({ token: root.dataset.socketToken, storageKey: "helpdesk.console.lastSeq." + me.id });

  var state = { queue: [], mine: [], agents: [], open: null, unread: {}, diagnostics: null, practiceId: null, replaying: false };
  var $ = function (id) { return document.getElementById(id); };
  var baseTitle = document.title, flashTimer = null;

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function say(text) { $("chat-notice").textContent = text || ""; }
  function fail(error) { say((error && error.message) || "Something went wrong."); }

  /* --- notifications ------------------------------------------------------------------------- */
  function notify(text) {
    if (flashTimer) clearInterval(flashTimer);
    var on = false, count = 0;
    flashTimer = setInterval(function () {
      document.title = (on = !on) ? text : baseTitle;
      if (++count > 20 || document.hasFocus()) { clearInterval(flashTimer); document.title = baseTitle; }
    }, 800);
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)(), osc = ctx.createOscillator();
      osc.frequency.value = 880; osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.15);
    } catch (e) { /* no sound available */ }
  }

  /* --- lists ----------------------------------------------------------------------------------- */
  function label(c) { return (c.practice_name || c.practice_id) + " · " + ((c.requester && c.requester.name) || "practice user"); }

  function renderLists() {
    var queue = $("queue"), mine = $("mine");
    clear(queue); clear(mine);
    $("queue-count").textContent = String(state.queue.length);
    state.queue.forEach(function (c) {
      queue.appendChild(el("li", { className: "chat-item" + (state.open === c.id ? " current" : "") }, [
        el("button", { type: "button", className: "linklike", "data-conversation": String(c.id),
                       onclick: function () { openConversation(c.id); } }, [label(c)]),
        el("span", { className: "small quiet", text: " #" + c.position + " · " + (c.preview || "") })
      ]));
    });
    if (!state.queue.length) queue.appendChild(el("li", { className: "empty", text: "No one is waiting." }));
    state.mine.forEach(function (c) {
      var unread = state.unread[c.id] || 0;
      mine.appendChild(el("li", { className: "chat-item" + (state.open === c.id ? " current" : "") }, [
        el("button", { type: "button", className: "linklike", "data-conversation": String(c.id),
                       onclick: function () { openConversation(c.id); } }, [label(c)]),
        unread ? el("span", { className: "unread", "aria-label": unread + " unread", text: String(unread) }) : null
      ]));
    });
    if (!state.mine.length) mine.appendChild(el("li", { className: "empty", text: "No active chats." }));
    renderTransfer();
  }

  /* "Transfer to…" lists the other agents online; with none, it says so instead of an empty menu. */
  function renderTransfer() {
    var select = $("transfer-to"), others = state.agents.filter(function (a) { return a.id !== me.id; });
    clear(select);
    select.appendChild(el("option", { value: "", text: "Transfer to…" }));
    others.forEach(function (a) { select.appendChild(el("option", { value: String(a.id), text: a.name })); });
    select.hidden = !others.length;
    $("transfer-none").hidden = !!others.length;
  }

  function refreshQueue() {
    return client.call("queue").then(function (answer) {
      state.queue = answer.waiting; state.agents = answer.agents_online; state.mine = answer.mine;
      answer.mine.forEach(function (c) { state.unread[c.id] = c.unread; });
      $("presence").value = answer.me.presence; $("capacity").value = answer.me.capacity;
      renderLists();
    }, fail);
  }

  /* --- the conversation pane ------------------------------------------------------------------ */
  var current = null;

  function renderHeader(c) {
    current = c;
    $("pane-title").textContent = c ? label(c) : "No chat open";
    $("pane-status").textContent = c ? c.status + (c.agent ? " with " + c.agent.name : "") : "";
    var mine = c && c.status === "active" && c.agent && c.agent.id === me.id;
    $("accept").hidden = !(c && c.status === "waiting");
    ["close", "to-request", "transfer"].forEach(function (id) { $(id).hidden = !mine; });
    $("email-transcript").hidden = !(c && c.status === "closed");
    $("composer").hidden = !mine;
    if (c && c.request_id) $("pane-status").textContent += " · request #" + c.request_id;
  }

  function openConversation(id) {
    if (state.open && state.open !== id) client.call("unwatch", { conversation_id: state.open }).catch(function () {});
    state.open = id;
    client.call("watch", { conversation_id: id }).then(function (answer) {
      client.forget(id);
      clear($("messages"));
      state.practiceId = answer.conversation.practice_id;  // before the history: its booking links name the practice
      state.replaying = true;  // history: open only the latest booking the practice named, once
      client.absorb(answer.messages);
      state.replaying = false;
      var named = answer.messages.filter(function (m) { return m.data && m.data.booking_references && m.author.type === "practice"; });
      if (named.length) diagnose(named[named.length - 1].data.booking_references[0]);
      else { clear($("diagnosis")); $("diagnosis").hidden = true; }
      renderHeader(answer.conversation);
      showDiagnostics(answer.diagnostics);
      markRead();
      renderLists();
    }, fail);
  }

  function appendMessage(m) {
    var list = $("messages");
    list.appendChild(H.renderMessage(m, m.author && m.author.type === "agent" && m.author.id === String(me.id), bookingLinks(m)));
    list.scrollTop = list.scrollHeight;
    var refs = (m.data && m.data.booking_references) || [];
    if (!state.replaying && m.author && m.author.type === "practice" && refs.length) diagnose(refs[0]);
  }

  /* A message's booking references (the practice's own, as the server found them) link to the
     booking's diagnosis within its practice, like the header search's results. */
  var referencePattern = root.dataset.referencePattern, bookingUrl = root.dataset.bookingUrl;
  function bookingLinks(m) {
    var known = {};
    ((m.data && m.data.booking_references) || []).concat((m.data && m.data.references) || []).forEach(function (r) {
      known[r.toLowerCase()] = r;
    });
    return { pattern: referencePattern, url: function (text) {
      var reference = known[text.toLowerCase()], practiceId = state.practiceId;
      if (!reference || !practiceId) return null;
      return bookingUrl.replace(/PRACTICE_ID|REFERENCE/g, function (slot) {
        return encodeURIComponent(slot === "REFERENCE" ? reference : practiceId);
      });
    } };
  }

  function markRead() {
    if (!state.open || !current || !current.agent || current.agent.id !== me.id) return;
    var seq = client.seen(state.open);
    state.unread[state.open] = 0;
    client.call("read", { conversation_id: state.open, seq: seq }).catch(function () {});
  }

  client.on("message", function (m) {
    if (m.conversation_id === state.open) {
      appendMessage(m);
      if (document.hasFocus()) markRead();
      else if (m.author.type === "practice") { state.unread[m.conversation_id] = (state.unread[m.conversation_id] || 0) + 1; notify("New message"); }
    } else if (m.author.type === "practice") {
      state.unread[m.conversation_id] = (state.unread[m.conversation_id] || 0) + 1;
      notify("New message");
    }
    renderLists();
  });

  client.on("conversation", function (c) {
    if (c.id === state.open) renderHeader(Object.assign({}, current || {}, c));
    if (c.agent && c.agent.id === me.id && c.status === "active") {
      if (!state.mine.some(function (x) { return x.id === c.id; })) { notify("Chat transferred to you"); }
    }
    refreshQueue();
  });

  client.on("queue", function (q) {
    var before = state.queue.map(function (c) { return c.id; });
    state.queue = q.waiting; state.agents = q.agents_online;
    if (q.waiting.some(function (c) { return before.indexOf(c.id) < 0; })) notify("New chat waiting");
    renderLists();
  });

  /* The presence the server stored (this tab's change or another tab's): it is what a reload opens in. */
  function presenceSaved(p) {
    $("presence").value = p.presence; $("capacity").value = p.capacity;
    $("presence-saved").textContent = "Saved: " + $("presence").selectedOptions[0].textContent + ", up to " + p.capacity
      + (p.capacity === 1 ? " chat" : " chats") + " at once.";
  }
  client.on("presence", presenceSaved);

  var typingTimer = null;
  client.on("typing", function (t) {
    if (t.conversation_id !== state.open) return;
    $("typing").textContent = t.typing ? t.author.name + " is typing…" : "";
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { $("typing").textContent = ""; }, 4000);
  });

  client.on("read", function (r) {
    if (r.conversation_id === state.open && r.by === "practice") $("read-receipt").textContent = "Seen by the practice";
  });

  client.on("status", function (status) {
    $("connection").textContent = status === "connected" ? "Connected" : "Reconnecting…";
    if (status === "connected") { refreshQueue(); if (state.open) openConversation(state.open); }
  });

  /* --- diagnostics ------------------------------------------------------------------------------ */
  function badge(text, tone) { return el("span", { className: "badge badge-" + tone, text: text }); }
  var BAD = ["bounced", "failed", "not_configured", "collision", "connection_lost", "patient_match", "rejected"];
  function tone(status) { return BAD.indexOf(status) >= 0 ? "bad" : (status === "pending" ? "muted" : "ok"); }
  /* Times of a practice in the practice's zone, written as the rest of the console writes them
     ("Thu 21 Jan 2027, 08:30 GMT"); codes in words, as on the diagnostics page. */
  var practiceZone = "UTC";
  function when(iso) {
    if (!iso) return "";
    var parts = {};
    try {
      new Intl.DateTimeFormat("en-GB", { timeZone: practiceZone, weekday: "short", day: "2-digit", month: "short",
        year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" })
        .formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    } catch (e) { return new Date(iso).toISOString(); }
    var zoneName = parts.timeZoneName === "UTC" ? "GMT" : parts.timeZoneName;
    return parts.weekday + " " + parts.day + " " + parts.month + " " + parts.year + ", " + parts.hour + ":" + parts.minute + " " + zoneName;
  }
  var STATUS_WORDS = {
    email: { delivered: "Delivered", sent: "Sent", bounced: "Bounced", failed: "Failed", not_configured: "No address set", pending: "Pending" },
    diary: { inserted: "Inserted", sidebar_transferred: "Transferred", sidebar_alerted: "In sidebar", collision: "Collision",
             connection_lost: "Connection lost", patient_match: "Patient not matched", rejected: "Rejected", pending: "Pending" },
    bookings_list: { delivered: "Listed", cancelled: "Cancelled" }
  };
  var CHANNEL_WORDS = { email: "Email", diary: "Diary", bookings_list: "Bookings list" };
  var EVENT_WORDS = { connection_lost: "Connection lost", connection_restored: "Connection restored", diary_failed: "Diary insert failed" };
  var REASON_WORDS = { collision: "booking collision", connection_lost: "connection lost", patient_match: "patient not matched",
                       rejected: "rejected by the practice software" };
  function words(map, code) { return map[code] || String(code || "").replace(/_/g, " "); }
  function statusLabel(channel, status) {
    return (CHANNEL_WORDS[channel] || channel.replace(/_/g, " ")) + ": " + words(STATUS_WORDS[channel] || {}, status);
  }

  function showDiagnostics(d) {
    state.diagnostics = d;
    var box = $("diagnostics");
    clear(box);
    if (!d) return;
    state.practiceId = d.practice_id;
    if (!d.known) { box.appendChild(el("p", { className: "empty", text: "The platform has not sent data for practice " + d.practice_id + " yet." })); return; }
    var h = d.health, c = h.connector, ins = h.diary_inserts;
    practiceZone = (h.practice && h.practice.timezone) || "UTC";
    box.appendChild(el("section", { className: "diag-health", "aria-label": "Health" }, [
      el("h3", { text: h.practice.name }),
      el("p", {}, [c.applies ? badge("Connector " + c.status, c.status === "online" ? "ok" : "bad") : badge("Sidebar (not integrated)", "muted"),
                   " ", el("span", { className: "small quiet", text: c.since ? "since " + when(c.since) : "" })]),
      el("p", { className: "small", text: "Diary inserts: " + (ins.success_rate === null ? "n/a" : Math.round(ins.success_rate * 100) + "% succeeded")
               + " · collisions " + h.collisions + " · connection losses " + h.connection_losses + " (" + h.window_days + " days)" }),
      el("ul", { className: "problems" }, h.notification_problems.map(function (p) { return el("li", { text: p.message }); }))
    ]));
    if (d.incident) {
      box.appendChild(el("p", { className: "banner incident-banner", role: "status" }, [
        "Open incident: ", el("a", { href: "/console/incidents/" + d.incident.id, text: "#" + d.incident.id + " " + d.incident.title }),
        " since " + when(d.incident.started_at)]));
    }
    if (d.at_risk && d.at_risk.bookings.length) {
      box.appendChild(el("h3", { text: "At risk today (" + d.at_risk.bookings.length + ")" }));
      var risky = el("ul", { className: "failed-bookings at-risk" });
      d.at_risk.bookings.forEach(function (b) {
        risky.appendChild(el("li", {}, [
          el("button", { type: "button", className: "linklike", "data-reference": b.reference, onclick: function () { diagnose(b.reference); } }, [b.reference]),
          " ", el("span", { className: "small", text: b.appointment_time + " · " + b.summary })]));
      });
      box.appendChild(risky);
    }
    box.appendChild(el("h3", { text: "Recent bookings that missed a channel" }));
    var list = el("ul", { className: "failed-bookings" });
    d.failed_bookings.forEach(function (b) {
      list.appendChild(el("li", {}, [
        el("button", { type: "button", className: "linklike", "data-reference": b.reference, onclick: function () { diagnose(b.reference); } }, [b.reference]),
        " ", el("span", { className: "small", text: b.patient.name + " · " + when(b.appointment_at) + " " }),
        badge(statusLabel("email", b.channels.email), tone(b.channels.email)), " ", badge(statusLabel("diary", b.channels.diary), tone(b.channels.diary))
      ]));
    });
    if (!d.failed_bookings.length) list.appendChild(el("li", { className: "empty", text: "None: every recent booking arrived 3 ways." }));
    box.appendChild(list);
    box.appendChild(el("h3", { text: "Integration timeline" }));
    var timeline = el("ol", { className: "timeline small" });
    d.timeline.forEach(function (e) {
      timeline.appendChild(el("li", { text: when(e.at) + " · " + words(EVENT_WORDS, e.kind)
        + (e.reason ? " (" + words(REASON_WORDS, e.reason) + ")" : "") + (e.reference ? " · " + e.reference : "") }));
    });
    if (!d.timeline.length) timeline.appendChild(el("li", { className: "empty", text: "No integration events." }));
    box.appendChild(timeline);
    $("diagnostics-updated").textContent = "Updated " + new Date(d.at).toLocaleTimeString();
  }

  client.on("diagnostics", function (d) { if (d.practice_id === state.practiceId) showDiagnostics(d); });

  function diagnose(reference) {
    if (!state.open) return;
    client.call("diagnose", { conversation_id: state.open, reference: reference }).then(function (answer) {
      showDiagnosis(answer.diagnosis);
    }, fail);
  }

  function showDiagnosis(v) {
    var box = $("diagnosis");
    clear(box);
    box.appendChild(el("h3", { text: "Booking " + v.reference }));
    box.appendChild(el("p", { className: "diagnosis-summary", text: v.summary }));
    var channels = el("ul", { className: "channels" });
    Object.keys(v.channels).forEach(function (name) {
      var ch = v.channels[name];
      channels.appendChild(el("li", {}, [(CHANNEL_WORDS[name] || name.replace(/_/g, " ")) + ": ", badge(words(STATUS_WORDS[name] || {}, ch.status), tone(ch.status))]));
    });
    box.appendChild(channels);
    if (v.practice_alerted.length) {
      box.appendChild(el("p", { className: "small", text: "Practice alerted: " + v.practice_alerted.map(function (a) {
        return a.kind.replace(/_/g, " ") + " to " + a.recipient + " at " + when(a.at); }).join("; ") }));
    }
    box.appendChild(el("h4", { text: "What to do" }));
    box.appendChild(el("ul", {}, (v.actions || []).map(function (a) { return el("li", { text: typeof a === "string" ? a : (a.text || a.message || a.title || JSON.stringify(a)) }); })));
    var articles = v.suggested_articles || [];
    box.appendChild(el("h4", { text: "Suggested articles" }));
    var list = el("ul", { className: "suggested" });
    articles.forEach(function (a) {
      list.appendChild(el("li", {}, [
        el("a", { href: a.url, target: "_blank", rel: "noopener", text: a.title }), " ",
        el("button", { type: "button", className: "button button-small", "data-article": String(a.id),
                       onclick: function () { shareArticle(a.id); } }, ["Share"])
      ]));
    });
    if (!articles.length) list.appendChild(el("li", { className: "empty", text: "No article for these causes." }));
    box.appendChild(list);
    box.hidden = false;
  }

  function shareArticle(articleId) {
    if (!state.open) return;
    client.send("share_article", { conversation_id: state.open, article_id: articleId }).then(function () { say("Article shared."); }, fail);
  }

  /* --- actions ---------------------------------------------------------------------------------- */
  $("accept").addEventListener("click", function () {
    client.call("accept", { conversation_id: state.open }).then(function (answer) {
      renderHeader(answer.conversation); refreshQueue(); markRead();
    }, fail);
  });
  $("accept-next").addEventListener("click", function () {
    client.call("accept", {}).then(function (answer) { openConversation(answer.conversation.id); refreshQueue(); }, fail);
  });
  $("close").addEventListener("click", function () {
    client.call("close", { conversation_id: state.open }).then(function (answer) { renderHeader(answer.conversation); refreshQueue(); }, fail);
  });
  $("to-request").addEventListener("click", function () {
    client.call("to_request", { conversation_id: state.open }).then(function (answer) {
      say("Request #" + answer.request_id + " created with the transcript."); renderHeader(answer.conversation);
    }, fail);
  });
  $("email-transcript").addEventListener("click", function () {
    client.call("email_transcript", { conversation_id: state.open }).then(function (answer) { say("Transcript emailed to " + answer.to + "."); }, fail);
  });
  $("transfer-to").addEventListener("change", function (event) {
    var to = Number(event.target.value);
    if (!to) return;
    client.call("transfer", { conversation_id: state.open, agent_id: to }).then(function (answer) {
      renderHeader(answer.conversation); refreshQueue(); say("Transferred.");
    }, fail);
  });
  function savePresence() {
    client.call("presence", { presence: $("presence").value, capacity: Number($("capacity").value) }).then(presenceSaved, fail);
  }
  $("presence").addEventListener("change", savePresence);
  $("capacity").addEventListener("change", savePresence);

  var input = $("composer-input"), lastTyping = 0;
  input.addEventListener("input", function () {
    var now = Date.now();
    if (state.open && now - lastTyping > 2000) { lastTyping = now; client.call("typing", { conversation_id: state.open, typing: true }).catch(function () {}); }
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("composer").requestSubmit(); }
  });
  $("canned").addEventListener("change", function (event) {
    if (event.target.value) { input.value = "/" + event.target.value; event.target.value = ""; input.focus(); }
  });
  $("composer").addEventListener("submit", function (event) {
    event.preventDefault();
    var body = input.value.trim();
    if (!body || !state.open) return;
    input.value = "";
    client.send("send_message", { conversation_id: state.open, body: body }).catch(function (error) { input.value = body; fail(error); });
  });
  window.addEventListener("focus", function () { document.title = baseTitle; markRead(); });
})();
