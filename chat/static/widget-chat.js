/* The practice's chat page, inside the help widget's iframe.
 *
 * The widget token arrives in the URL fragment (#token=..., which browsers never send to a
 * server) or from the embedding page by postMessage({type: "helpdesk:token", token}). */
(function () {
  "use strict";
  var H = window.HelpdeskChat;
  var $ = function (id) { return document.getElementById(id); };
  var client = null, conversation = null, typingTimer = null, lastTyping = 0;

  function show(section) {
    ["start", "offline", "conversation", "ended"].forEach(function (id) { $(id).hidden = id !== section && !(section === "ended" && id === "conversation"); });
  }
  function status(text) { $("widget-status").textContent = text; }
  function notice(text) { $("widget-notice").textContent = text || ""; }
  function fail(error) { notice((error && error.message) || "Something went wrong."); }

  function claims(token) {
    try { return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); } catch (e) { return {}; }
  }

  function describe(c) {
    if (c.status === "waiting") {
      var wait = c.estimated_wait_seconds === null || c.estimated_wait_seconds === undefined ? "" : " · estimated wait " + H.minutes(c.estimated_wait_seconds);
      return "Waiting for an agent: you are number " + c.position + " in the queue" + wait + ".";
    }
    if (c.status === "active") return "You are chatting with " + (c.agent ? c.agent.name : "support") + ".";
    return "";  // the "The chat has ended" heading says it: one notice, not two
  }

  function setConversation(c) {
    conversation = c;
    status(describe(c));
    $("composer").hidden = c.status === "closed";
    $("ask-person").hidden = c.status !== "waiting";  // a person is already here (or the chat ended)
    if (c.status === "closed") { show("ended"); $("rating-form").hidden = !!c.rating; }
    else show("conversation");
  }

  function markRead() {
    if (!conversation || document.hidden) return;
    client.call("read", { conversation_id: conversation.id, seq: client.seen(conversation.id) }).catch(function () {});
  }

  function resume() {
    client.call("resume").then(function (answer) {
      if (answer.conversation) {
        client.forget(answer.conversation.id);
        var list = $("messages");
        while (list.firstChild) list.removeChild(list.firstChild);
        client.absorb(answer.messages);
        setConversation(answer.conversation);
        markRead();
        return;
      }
      return client.call("availability").then(function (a) {
        if (a.agents_online) {
          status("An agent is available" + (a.estimated_wait_seconds !== null ? ": estimated wait " + H.minutes(a.estimated_wait_seconds) : "") + ".");
          show("start");
        } else {
          status("");  // the "No one is online right now" heading says it
          show("offline");
        }
      });
    }).catch(fail);
  }

  function connect(token) {
    var who = claims(token);
    if (who.email) $("offline-email").value = who.email;
    client = new H.ChatClient({ token: token, storageKey: "helpdesk.widget.lastSeq." + who.practice + "." + who.sub });
    client.on("status", function (s, detail) {
      if (s === "connected") { notice(""); resume(); }
      else if (s === "error" && detail && /^(token_expired|invalid_token)$/.test(detail.code) && window.parent !== window) {
        status("Signing you in again…");  // the panel renews the token and posts it back (below)
        window.parent.postMessage({ type: "helpdesk:token-expired" }, window.location.origin);
      }
      else if (s === "error") status("Could not connect: " + ((detail && detail.message) || "please reload"));
      else status("Reconnecting…");
    });
    client.on("message", function (m) {
      if (conversation && m.conversation_id !== conversation.id) return;
      var list = $("messages");
      list.appendChild(H.renderMessage(m, m.author && m.author.type === "practice"));
      list.scrollTop = list.scrollHeight;
      $("typing").textContent = "";
      if (m.author && m.author.type !== "practice") markRead();
    });
    client.on("conversation", function (c) { if (!conversation || c.id === conversation.id) setConversation(c); });
    client.on("typing", function (t) {
      $("typing").textContent = t.typing ? t.author.name + " is typing…" : "";
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { $("typing").textContent = ""; }, 4000);
    });
    client.on("read", function (r) { if (r.by === "agent") $("read-receipt").textContent = "Seen"; });
  }

  $("start-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var body = $("start-input").value.trim();
    if (!body) return;
    client.send("start_conversation", { body: body }).then(function (answer) {
      $("start-input").value = "";
      client.absorb(answer.messages);
      setConversation(answer.conversation);
    }, function (error) {
      if (error.code === "no_agent_online") { $("offline-body").value = body; show("offline"); status(""); }
      else fail(error);
    });
  });

  $("offline-form").addEventListener("submit", function (event) {
    event.preventDefault();
    client.call("leave_message", {
      subject: $("offline-subject").value, body: $("offline-body").value,
      booking_reference: $("offline-reference").value, email: $("offline-email").value
    }).then(function (answer) {
      $("offline").hidden = true;
      status("Thank you: your message is request #" + answer.request_id + ". We will reply by email.");
    }, fail);
  });

  var input = $("composer-input");
  input.addEventListener("input", function () {
    var now = Date.now();
    if (conversation && now - lastTyping > 2000) { lastTyping = now; client.call("typing", { conversation_id: conversation.id, typing: true }).catch(function () {}); }
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("composer").requestSubmit(); }
  });
  $("composer").addEventListener("submit", function (event) {
    event.preventDefault();
    var body = input.value.trim();
    if (!body || !conversation) return;
    input.value = "";
    $("read-receipt").textContent = "";
    client.send("send_message", { conversation_id: conversation.id, body: body }).catch(function (error) { input.value = body; fail(error); });
  });
  $("ask-person").addEventListener("click", function () {  // the answer desk hands the chat to a person
    if (!conversation) return;
    client.call("handoff", { conversation_id: conversation.id }).then(function (answer) {
      if (answer.error) return fail(answer.error);
      client.absorb(answer.messages || []);  // with no agent online, its last line says the chat became a request
      setConversation(answer.conversation);
    }, fail);
  });
  $("messages").addEventListener("click", function (event) {  // tap one of the assistant's choices
    var choice = event.target.closest && event.target.closest("button.choice");
    if (!choice || !conversation) return;
    client.send("send_message", { conversation_id: conversation.id, body: choice.getAttribute("data-reference") }).catch(fail);
  });
  $("end-chat").addEventListener("click", function () {
    client.call("close", { conversation_id: conversation.id }).then(function (answer) { setConversation(answer.conversation); }, fail);
  });
  $("rating-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var chosen = document.querySelector("input[name=rating]:checked");
    client.call("rate", { conversation_id: conversation.id, rating: Number(chosen.value), comment: $("rating-comment").value })
      .then(function () { $("rating-form").hidden = true; notice("Thank you for your rating."); }, fail);
  });
  $("email-transcript").addEventListener("click", function () {
    client.call("email_transcript", { conversation_id: conversation.id }).then(function (a) { notice("Transcript sent to " + a.to + "."); }, fail);
  });
  $("new-chat").addEventListener("click", function () {
    var list = $("messages");
    while (list.firstChild) list.removeChild(list.firstChild);
    conversation = null;
    resume();
  });
  document.addEventListener("visibilitychange", markRead);

  // A token from the embedding page: the first one signs in, a later one (renewed) reconnects.
  window.addEventListener("message", function (event) {
    var data = event.data || {};
    if (event.source !== window.parent || data.type !== "helpdesk:token" || typeof data.token !== "string") return;
    if (!client) { connect(data.token); return; }
    client.token = data.token;
    if (!client.socket.connected) client.socket.connect();
  });
  var fromHash = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (fromHash) {
    history.replaceState(null, "", window.location.pathname);  // don't leave the token in the address bar
    connect(fromHash);
  } else {
    status("Waiting for the portal to sign you in…");
    if (window.parent !== window) window.parent.postMessage({ type: "helpdesk:ready" }, "*");
  }
})();
