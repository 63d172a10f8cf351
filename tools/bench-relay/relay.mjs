// The anchor of DESIGN.md section 10: a bare WebSocket relay on Node's `ws`. Every message is
// forwarded to the other connections of the same path (mend-load --relay opens each pair on
// its own path). With --ack it is also sent back to its sender, as an acknowledgement: one
// message in, two out, the pattern of mendd's answer to a command (the sender's result, the
// partner's event; mend-load --relay-acks reads them). Usage: node relay.mjs [PORT] [--ack]
// (PORT 0 or none: an ephemeral port). Prints "listening PORT" once it accepts connections.
// Loopback only.
import { WebSocketServer } from "ws";

const args = process.argv.slice(2);
const ack = args.includes("--ack");
const port = Number(args.find((arg) => arg !== "--ack") ?? 0);
const server = new WebSocketServer({ host: "127.0.0.1", port });
const paths = new Map();
server.on("connection", (socket, request) => {
  const peers = paths.get(request.url) ?? new Set();
  paths.set(request.url, peers.add(socket));
  socket.on("message", (data, isBinary) => {
    for (const peer of peers) if (peer !== socket) peer.send(data, { binary: isBinary });
    if (ack) socket.send(data, { binary: isBinary });
  });
  socket.on("close", () => {
    peers.delete(socket);
    if (peers.size === 0) paths.delete(request.url);
  });
});
server.on("listening", () => console.log(`listening ${server.address().port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
