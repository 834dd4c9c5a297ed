/* Practice Helpdesk chat client: the official Socket.IO client (vendor/socket.io.min.js) plus
 * the chat's delivery rules, shared by the console and the widget.
 *
 * - Every message has a per-conversation seq. The client remembers the highest seq it has shown
 *   per conversation, sends it as auth.last_seq when it (re)connects so the server replays what
 *   it missed, and drops anything it has already shown: each message appears exactly once.
 * - A gap (seq jumps ahead) is filled with `sync`.
 * - send() gives each message a client_id and keeps it until the server acknowledges it; after a
 *   reconnect unacknowledged messages are sent again with the same client_id (the server stores
 *   each client_id once).
 * - Nothing here builds HTML from text: callers render with textContent.
 */
(function (global) {
  "use strict";

  var ACK_TIMEOUT_MS = 10000;

  function newClientId() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  function ChatClient(options) {
    var self = this;
    this.token = options.token;
    this.handlers = {};
    this.lastSeq = {};
    this.pending = {}; // client_id -> {event, payload}
    this.storageKey = options.storageKey || null;
    if (this.storageKey) {
      try { this.lastSeq = JSON.parse(global.sessionStorage.getItem(this.storageKey) || "{}"); } catch (e) { this.lastSeq = {}; }
    }
    this.socket = global.io(options.url || "/chat", {
      transports: ["websocket"],
      auth: function (cb) { cb({ token: self.token, last_seq: self.lastSeq }); },
      reconnectionDelayMax: 5000
    });
    this.socket.on("connect", function () { self._emit("status", "connected"); self._resendPending(); });
    this.socket.on("disconnect", function (reason) { self._emit("status", "disconnected", reason); });
    this.socket.on("connect_error", function (err) { self._emit("status", "error", err && (err.data || err.message)); });
    this.socket.on("message", function (message) { self._receive(message); });
    ["conversation", "typing", "read", "queue", "diagnostics", "presence"].forEach(function (name) {
      self.socket.on(name, function (payload) { self._emit(name, payload); });
    });
  }

  ChatClient.prototype.on = function (name, fn) {
    (this.handlers[name] = this.handlers[name] || []).push(fn);
    return this;
  };

  ChatClient.prototype._emit = function (name) {
    var args = Array.prototype.slice.call(arguments, 1);
    (this.handlers[name] || []).forEach(function (fn) { fn.apply(null, args); });
  };

  ChatClient.prototype._remember = function () {
    if (!this.storageKey) return;
    try { global.sessionStorage.setItem(this.storageKey, JSON.stringify(this.lastSeq)); } catch (e) { /* private mode */ }
  };

  ChatClient.prototype.seen = function (conversationId) {
    return this.lastSeq[conversationId] || 0;
  };

  /* Show a message once, in seq order; ask for whatever is missing before it. */
  ChatClient.prototype._receive = function (message) {
    var id = message.conversation_id, last = this.seen(id);
    if (message.seq <= last) return;
    if (message.seq > last + 1 && last > 0) { this.sync(id); return; }
    this.lastSeq[id] = message.seq;
    this._remember();
    this._emit("message", message);
  };

  /* Accept a batch (history or replay), keeping the exactly-once rule. */
  ChatClient.prototype.absorb = function (messages) {
    var self = this;
    (messages || []).slice().sort(function (a, b) { return a.seq - b.seq; }).forEach(function (m) {
      if (m.seq <= self.seen(m.conversation_id)) return;
      self.lastSeq[m.conversation_id] = m.seq;
      self._emit("message", m);
    });
    this._remember();
  };

  ChatClient.prototype.forget = function (conversationId) {
    delete this.lastSeq[conversationId];
    this._remember();
  };

  ChatClient.prototype.call = function (event, payload) {
    var socket = this.socket;
    return new Promise(function (resolve, reject) {
      socket.timeout(ACK_TIMEOUT_MS).emit(event, payload || {}, function (err, answer) {
        if (err) { reject({ code: "timeout", message: "the server did not answer in time" }); return; }
        if (answer && answer.error) { reject(answer.error); return; }
        resolve(answer);
      });
    });
  };

  ChatClient.prototype.sync = function (conversationId) {
    var self = this;
    return this.call("sync", { conversation_id: conversationId, after_seq: this.seen(conversationId) })
      .then(function (answer) { self.absorb(answer.messages); return answer; });
  };

  /* Send with a client_id; retried with the same id after a reconnect until acknowledged. */
  ChatClient.prototype.send = function (event, payload) {
    var self = this, clientId = newClientId();
    payload = Object.assign({}, payload, { client_id: clientId });
    this.pending[clientId] = { event: event, payload: payload };
    return this._deliver(clientId);
  };

  ChatClient.prototype._deliver = function (clientId) {
    var self = this, item = this.pending[clientId];
    return this.call(item.event, item.payload).then(function (answer) {
      delete self.pending[clientId];
      if (answer && answer.message) self._receive(answer.message);
      return answer;
    }, function (error) {
      if (error.code !== "timeout") delete self.pending[clientId];
      throw error;
    });
  };

  ChatClient.prototype._resendPending = function () {
    var self = this;
    Object.keys(this.pending).forEach(function (clientId) {
      self._deliver(clientId).catch(function () { /* reported by the first attempt */ });
    });
  };

  /* Small DOM helpers: text only, never HTML from data. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), attrs[key]);
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clock(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function minutes(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return "under a minute";
    var m = Math.round(seconds / 60);
    return "about " + m + " minute" + (m === 1 ? "" : "s");
  }

  /* Text with some of its words as links: `links` is {pattern, url(word) -> href or null}. Text
     nodes and <a> elements only, never HTML from the text. */
  function linkedText(text, links) {
    if (!links || !links.pattern) return [text];
    var pieces = [], done = 0, pattern = new RegExp(links.pattern, "g"), match, href;
    while ((match = pattern.exec(text)) !== null) {
      href = links.url(match[0]);
      if (!href) continue;
      pieces.push(text.slice(done, match.index), el("a", { href: href, text: match[0] }));
      done = match.index + match[0].length;
    }
    pieces.push(text.slice(done));
    return pieces;
  }

  /* One message as a list item; article cards link to the Help Center; `links` (optional) turns
     words of the text into links (see linkedText). */
  function renderMessage(message, mine, links) {
    var kind = message.kind, author = message.author || {};
    var item = el("li", { className: "msg msg-" + kind + " from-" + author.type + (mine ? " mine" : ""),
                          "data-seq": String(message.seq) });
    if (kind === "system") {
      item.appendChild(el("span", { text: message.body }));
      return item;
    }
    item.appendChild(el("div", { className: "msg-meta" }, [
      el("strong", { text: author.name || "" }), " ", el("time", { datetime: message.created_at, text: clock(message.created_at) })
    ]));
    if (kind === "article" && message.data && message.data.article) {
      var a = message.data.article;
      item.appendChild(el("div", { className: "article-card" }, [
        el("a", { href: a.url, target: "_blank", rel: "noopener", text: a.title }),
        el("p", { className: "small", text: a.snippet || "" })
      ]));
    } else {
      item.appendChild(el("div", { className: "msg-body" }, linkedText(message.body, links)));
    }
    if (author.type === "assistant" && message.data) renderAnswer(item, message.data);
    return item;
  }

  /* The assistant's structured answer: its articles, and the bookings to choose from. */
  function renderAnswer(item, data) {
    (data.articles || []).forEach(function (a) {
      if (a.url) item.appendChild(el("div", { className: "article-card" }, [el("a", { href: a.url, target: "_blank", rel: "noopener", text: a.title })]));
    });
    if (data.choices && data.choices.length) {
      item.appendChild(el("div", { className: "choices" }, data.choices.map(function (c) {
        return el("button", { type: "button", className: "button choice", "data-reference": c.reference, text: c.label });
      })));
    }
    if (data.handoff) item.appendChild(el("p", { className: "small quiet handoff-reason", text: "Handed to a person (" + String(data.handoff.reason).replace(/_/g, " ") + ")" }));
  }

  global.HelpdeskChat = { ChatClient: ChatClient, el: el, clock: clock, minutes: minutes, renderMessage: renderMessage };
})(window);
