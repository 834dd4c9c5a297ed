// The reference server for `bench/chat.py node`: the least a Node socket.io server does for the
// same durable work as ours. Each message is stored in SQLite (better-sqlite3, WAL,
// synchronous=NORMAL) with a per-conversation seq and a unique client_id, in one transaction,
// then emitted to the conversation's room and acknowledged; a resent client_id is answered with
// the stored original. Usage: node server.js PORT DATABASE_FILE TOKEN
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const Database = require("better-sqlite3");

const [port, file, token] = process.argv.slice(2);
const db = new Database(file);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
db.exec(`
  CREATE TABLE IF NOT EXISTS conversations (id INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    seq INTEGER NOT NULL, client_id TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE (conversation_id, seq), UNIQUE (conversation_id, client_id));
`);
const findByClientId = db.prepare("SELECT * FROM messages WHERE conversation_id = ? AND client_id = ?");
const nextSeq = db.prepare("UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq");
const insert = db.prepare(
  "INSERT INTO messages (conversation_id, seq, client_id, body, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *");
const openConversation = db.prepare("INSERT OR IGNORE INTO conversations (id) VALUES (?)");

const store = db.transaction((conversationId, clientId, body) => {
  const existing = findByClientId.get(conversationId, clientId);
  if (existing) { return { message: existing, duplicate: true }; }
  const seq = nextSeq.get(conversationId);
  if (!seq) { return null; }
  return { message: insert.get(conversationId, seq.last_seq, clientId, body, new Date().toISOString()) };
});

const httpServer = http.createServer();
const io = new Server(httpServer, { transports: ["websocket"] });
const chat = io.of("/chat");
chat.use((socket, next) => (socket.handshake.auth && socket.handshake.auth.token === token
  ? next() : next(new Error("invalid token"))));
chat.on("connection", (socket) => {
  socket.on("join", (data, ack) => {
    const id = Number(data && data.conversation_id);
    openConversation.run(id);
    socket.join(`conversation:${id}`);
    ack({ ok: true });
  });
  socket.on("send_message", (data, ack) => {
    const body = data && typeof data.body === "string" ? data.body.trim() : "";
    const clientId = data && typeof data.client_id === "string" ? data.client_id : "";
    if (!body || !clientId || body.length > 4000) { return ack({ error: { code: "invalid_message" } }); }
    const stored = store(Number(data.conversation_id), clientId, body);
    if (!stored) { return ack({ error: { code: "not_found" } }); }
    if (!stored.duplicate) { chat.to(`conversation:${stored.message.conversation_id}`).emit("message", stored.message); }
    ack(stored);
  });
});
process.on("SIGTERM", () => { db.close(); process.exit(0); });
httpServer.listen(Number(port), "127.0.0.1", () => console.log(`listening ${port}`));
