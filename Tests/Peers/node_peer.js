// Interop peer for SwiftWS tests, on Node `ws` (Debian node-ws; NODE_PATH=/usr/share/nodejs).
//   node node_peer.js client URL SPEC [quick]  -> sends every size and kind, checks echoes,
//                                                 closes 1000 "bye", prints "OK <messages> <extensions>"
//   node node_peer.js server SPEC              -> echo server; prints "listening on 127.0.0.1:PORT";
//                                                 exits when stdin closes
// SPEC: plain | deflate | deflate:snct,cnct,smwb=N,cmwb=N (see python_peer.py). Bounded: 30 s.
'use strict';
const WebSocket = require('ws');

const payload = (size) => { const b = Buffer.alloc(size); for (let i = 0; i < size; i++) b[i] = i & 255; return b; };
const text = (size) => 'é'.repeat(Math.floor(size / 2));
const words = (size) => 'price update ACME '.repeat(Math.floor(size / 18) + 1).slice(0, size);
setTimeout(() => { console.error('timed out'); process.exit(3); }, 30000).unref();

function deflateOptions(spec) {
  if (spec === 'plain') return false;
  if (spec === 'deflate') return { threshold: 0 };
  const params = {};
  for (const item of spec.split(':')[1].split(',')) { const [k, v] = item.split('='); params[k] = v === undefined ? true : Number(v); }
  const options = { threshold: 0 };
  if (params.snct) options.serverNoContextTakeover = true;
  if (params.cnct) options.clientNoContextTakeover = true;
  if (params.smwb) options.serverMaxWindowBits = params.smwb;
  if (params.cmwb) options.clientMaxWindowBits = params.cmwb;
  return options;
}

const [mode, arg2, arg3, arg4] = process.argv.slice(2);
if (mode === 'client') {
  const sizes = [0, 1, 125, 126, 65535, 65536, 1 << 20].concat(arg4 === 'quick' ? [] : [16 << 20]);
  const ws = new WebSocket(arg2, { perMessageDeflate: deflateOptions(arg3), maxPayload: 0 });
  const plan = [];
  for (const size of sizes) { plan.push([payload(size), true]); plan.push([text(size), false]); plan.push([words(size), false]); }
  let index = 0;
  let fragmentStep = 0;
  const sendNext = () => {
    if (index < plan.length) { ws.send(plan[index][0], { binary: plan[index][1] }); return; }
    if (fragmentStep === 0) {
      ws.send(Buffer.from('ab'), { binary: true, fin: false });
      ws.send(Buffer.from(''), { binary: true, fin: false });
      ws.send(Buffer.from('cd'.repeat(1000)), { binary: true, fin: true });
    } else {
      ws.send('hé', { binary: false, fin: false });
      ws.send('l', { binary: false, fin: false });
      ws.send('lo'.repeat(5000), { binary: false, fin: true });
    }
  };
  const fragmentExpect = [Buffer.from('ab' + 'cd'.repeat(1000)), 'hél' + 'lo'.repeat(5000)];
  let extensions = '-';
  ws.on('upgrade', (response) => { extensions = response.headers['sec-websocket-extensions'] || '-'; });
  ws.on('open', sendNext);
  ws.on('message', (data, isBinary) => {
    let expected, expectBinary;
    if (index < plan.length) { [expected, expectBinary] = plan[index]; } else { expected = fragmentExpect[fragmentStep]; expectBinary = fragmentStep === 0; }
    const ok = isBinary === expectBinary && (isBinary ? Buffer.compare(data, expected) === 0 : data.toString('utf8') === expected);
    if (!ok) { console.error(`echo mismatch at step ${index}/${fragmentStep}`); process.exit(1); }
    if (index < plan.length) { index++; } else { fragmentStep++; }
    if (index === plan.length && fragmentStep === 2) { ws.close(1000, 'bye'); } else { sendNext(); }
  });
  ws.on('close', (code) => {
    if (index === plan.length && fragmentStep === 2) { console.log(`OK ${plan.length + 2} ${extensions}`); process.exit(0); }
    console.error(`closed early with ${code}`); process.exit(1);
  });
  ws.on('error', (error) => { console.error(String(error)); process.exit(1); });
} else {
  const server = new WebSocket.Server({ host: '127.0.0.1', port: 0, perMessageDeflate: deflateOptions(arg2), maxPayload: 0 });
  server.on('listening', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
  server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
