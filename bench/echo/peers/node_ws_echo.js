// Echo server on Node `ws` (Debian node-ws; run with NODE_PATH=/usr/share/nodejs), a peer for
// bench/echo/run.sh.
//
// Every message received is sent back unchanged, with its type (text or binary). Configured for
// a raw-frame benchmark: perMessageDeflate off (on with --deflate, the library's defaults) and a
// payload limit large enough for any size the load generator sends; clientTracking off because an
// echo server never enumerates its clients.
//
//     node node_ws_echo.js --port PORT [--host 127.0.0.1] [--deflate]
//
// Prints `listening on HOST:PORT` once the socket accepts connections; stops on SIGTERM/SIGINT.
'use strict';

const { WebSocketServer } = require('ws');

/** Returns the value following `--name` on the command line, or `fallback`. */
function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const host = option('host', '127.0.0.1');
const port = Number(option('port', NaN));
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node node_ws_echo.js --port PORT [--host 127.0.0.1]');
  process.exit(2);
}

const server = new WebSocketServer({
  host,
  port,
  perMessageDeflate: process.argv.includes('--deflate'),
  maxPayload: 64 * 1024 * 1024,
  clientTracking: false,
});

server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on('error', () => socket.terminate());
});
server.on('listening', () => console.log(`listening on ${host}:${port}`));
server.on('error', (error) => {
  console.error(`node_ws_echo: ${error.message}`);
  process.exit(1);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
