// The official socket.io JavaScript client timing send_message -> acknowledgement, one message at
// a time, against either server. Prints one JSON line of the round trips in milliseconds.
// Usage: node roundtrip.js URL TOKEN CONVERSATION_ID MESSAGES WARMUP [join]
"use strict";
const { io } = require("socket.io-client");

const [url, token, conversation, messages, warmup, join] = process.argv.slice(2);
const conversationId = Number(conversation);
const socket = io(`${url}/chat`, { auth: { token }, transports: ["websocket"], reconnection: false });

async function send(clientId) {
  const answer = await socket.timeout(10000).emitWithAck(
    "send_message", { conversation_id: conversationId, client_id: clientId, body: `message ${clientId}` });
  if (answer && answer.error) { throw new Error(JSON.stringify(answer.error)); }
}

socket.on("connect_error", (err) => { console.error(`connect_error: ${err.message}`); process.exit(2); });
socket.on("connect", async () => {
  try {
    if (join === "join") { await socket.timeout(10000).emitWithAck("join", { conversation_id: conversationId }); }
    for (let i = 0; i < Number(warmup); i++) { await send(`w${i}`); }
    const times = [];
    for (let i = 0; i < Number(messages); i++) {
      const started = process.hrtime.bigint();
      await send(`m${i}`);
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    console.log(JSON.stringify({ times }));
    socket.close();
    process.exit(0);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
});
