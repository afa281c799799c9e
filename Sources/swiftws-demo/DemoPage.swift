/// The chat page the demo serves at `/`: plain HTML, inline CSS/SVG and the browser's own
/// WebSocket, no framework and no external resources. It connects with `?json`, so the server
/// sends it JSON events: welcome (with the node's name), chat, join, leave, rename, presence (the
/// room's members on one node; with Redis each node sends its own list and the page merges them)
/// and, every second, stats for the live panel (its own node's only), compression ratio
/// included. It reconnects with exponential backoff.
let demoPage = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SwiftWS demo chat</title>
<style>
  * { box-sizing: border-box; }
  body { font: 15px system-ui, sans-serif; margin: 0; padding: 1rem; color: #222; background: #fafafa; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
  #status { color: #666; margin: 0 0 .6rem; }
  #status.reconnecting { color: #b45309; font-weight: 600; }
  #status.reconnecting::before { content: "⟳ "; }
  .layout { display: grid; grid-template-columns: minmax(0, 1fr) 15rem; gap: 1rem; max-width: 64rem; margin: 0 auto; }
  #log { border: 1px solid #ccc; background: #fff; height: 24rem; overflow-y: auto; padding: .5rem; white-space: pre-wrap; }
  #log p { margin: .15rem 0; padding: .15rem .4rem; border-radius: .4rem; }
  #log p.system { color: #777; font-style: italic; }
  #log p.mine { background: #dbeafe; margin-left: 2rem; text-align: right; }
  #log p.mine b { color: #1d4ed8; }
  form { display: flex; gap: .5rem; margin-top: .5rem; }
  input { flex: 1; min-width: 0; padding: .5rem; font-size: 1rem; }
  button { padding: .5rem 1rem; font-size: 1rem; }
  aside section { border: 1px solid #ccc; background: #fff; padding: .5rem; margin-bottom: 1rem; }
  aside h2 { font-size: .95rem; margin: 0 0 .4rem; }
  #users { list-style: none; margin: 0; padding: 0; }
  #users li.me { font-weight: 600; color: #1d4ed8; }
  .metric { display: flex; align-items: center; gap: .4rem; font-size: .85rem; white-space: nowrap; }
  .metric span.num { font-variant-numeric: tabular-nums; min-width: 3.5rem; margin-left: auto; text-align: right; }
  .metric svg { width: 5rem; height: 1.4rem; }
  .metric polyline { fill: none; stroke: #2563eb; stroke-width: 1.5; }
  .note { color: #777; font-size: .75rem; }
  @media (max-width: 700px) {
    body { padding: .5rem; font-size: 14px; }
    .layout { grid-template-columns: 1fr; gap: .5rem; }
    #log { height: 50vh; }
    aside { display: grid; grid-template-columns: 1fr 1fr; gap: .5rem; order: -1; }
    aside section { margin-bottom: 0; }
    .metric svg { width: 3rem; }
    .metric span.num { min-width: 2.5rem; }
  }
</style>
</head>
<body>
<h1>SwiftWS demo chat</h1>
<p id="status">connecting…</p>
<p id="node" class="note"></p>
<div class="layout">
<main>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="say something, /join ROOM or /nick NAME"><button>Send</button></form>
</main>
<aside>
<section><h2>In <span id="room"></span></h2><ul id="users"></ul></section>
<section id="panel"><h2>Live</h2>
<div class="metric">connections<span class="num" id="m-connections">–</span><svg id="c-connections" viewBox="0 0 60 20" preserveAspectRatio="none"><polyline/></svg></div>
<div class="metric">msgs in/s<span class="num" id="m-messagesInPerSecond">–</span><svg id="c-messagesInPerSecond" viewBox="0 0 60 20" preserveAspectRatio="none"><polyline/></svg></div>
<div class="metric">msgs out/s<span class="num" id="m-messagesOutPerSecond">–</span><svg id="c-messagesOutPerSecond" viewBox="0 0 60 20" preserveAspectRatio="none"><polyline/></svg></div>
<div class="metric">bytes in/s<span class="num" id="m-bytesInPerSecond">–</span><svg id="c-bytesInPerSecond" viewBox="0 0 60 20" preserveAspectRatio="none"><polyline/></svg></div>
<div class="metric">bytes out/s<span class="num" id="m-bytesOutPerSecond">–</span><svg id="c-bytesOutPerSecond" viewBox="0 0 60 20" preserveAspectRatio="none"><polyline/></svg></div>
<div class="metric">compression<span class="num" id="m-compressionRatio">–</span><svg id="c-compressionRatio" viewBox="0 0 60 20" preserveAspectRatio="none"><polyline/></svg></div>
<div class="metric">total in / out<span class="num" id="m-totals">–</span></div>
<p class="note">Payload bytes, before permessage-deflate. Compression: payload bytes per wire byte of the room broadcasts (last second; <span id="m-compressionTotal">–</span> overall). <a href="/metrics">/metrics</a></p>
</section>
</aside>
</div>
<script>
  let room = location.hash.slice(1) || "lobby";
  let me = null, node = null, socket = null, attempt = 0, updates = 0;
  let presenceByNode = {};  // node name -> its members of this room
  const log = document.getElementById("log");
  const status = document.getElementById("status");
  const users = document.getElementById("users");
  const series = {};
  const line = (cls, from, text) => {
    const p = document.createElement("p");
    if (cls) p.className = cls;
    if (from !== null) { const b = document.createElement("b"); b.textContent = from; p.append(b, ": "); }
    p.append(text);
    log.append(p);
    log.scrollTop = log.scrollHeight;
  };
  const human = (n) => n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e3 ? (n / 1e3).toFixed(1) + "k" : String(n);
  const chart = (key, value, text = human(value)) => {
    const values = (series[key] = (series[key] || []).concat([value]).slice(-30));
    const max = Math.max(1, ...values);
    const step = 60 / Math.max(1, values.length - 1);
    const points = values.map((v, i) => `${(i * step).toFixed(1)},${(19 - v / max * 18).toFixed(1)}`).join(" ");
    document.querySelector(`#c-${key} polyline`).setAttribute("points", points);
    document.getElementById(`m-${key}`).textContent = text;
  };
  const handle = (m) => {
    switch (m.type) {
      case "welcome":
        if (m.room !== room) { users.replaceChildren(); presenceByNode = {}; }  // the new room's presence follows
        me = m.you; room = m.room; node = m.node || null;
        if (node) document.getElementById("node").textContent = `node ${node}`;
        document.getElementById("room").textContent = room;
        status.textContent = `connected to room ${room} (${socket.extensions || "no extensions"})`;
        if (location.hash.slice(1) !== room) window.history.replaceState(null, "", "#" + room);
        line("system", null, `you are ${me} in room ${room}`);
        break;
      case "chat": line(m.from === me ? "mine" : "", m.from, m.text); break;
      case "join": line("system", null, `${m.name} joined`); break;
      case "leave": line("system", null, `${m.name} left`); break;
      case "rename": line("system", null, `${m.from} is now ${m.to}`); break;
      case "presence":
        if (m.room !== room) break;
        presenceByNode[m.node || ""] = m.members;
        // This node's members first, then the other nodes' (joined through Redis).
        const nodes = Object.keys(presenceByNode).sort((a, b) => (b === node) - (a === node) || a.localeCompare(b));
        users.replaceChildren(...nodes.flatMap((n) => presenceByNode[n]).map((name) => {
          const li = document.createElement("li");
          li.textContent = name === me ? `${name} (you)` : name;
          if (name === me) li.className = "me";
          return li;
        }));
        break;
      case "stats":
        if (m.node && node && m.node !== node) break;  // another node's panel
        chart("compressionRatio", Number(m.compressionRatio), `×${Number(m.compressionRatio).toFixed(2)}`);
        document.getElementById("m-compressionTotal").textContent = `×${Number(m.compressionRatioTotal).toFixed(2)}`;
        for (const key of ["connections", "messagesInPerSecond", "messagesOutPerSecond", "bytesInPerSecond", "bytesOutPerSecond"]) chart(key, m[key]);
        document.getElementById("m-totals").textContent = `${human(m.bytesIn)} / ${human(m.bytesOut)}`;
        document.getElementById("panel").dataset.updates = String(++updates);
        break;
    }
  };
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/${encodeURIComponent(room)}?json`);
    socket.onopen = () => {
      attempt = 0;
      status.removeAttribute("class");
      status.textContent = `connected to room ${room} (${socket.extensions || "no extensions"})`;
    };
    socket.onmessage = (event) => {
      let m;
      try { m = JSON.parse(event.data); } catch { line("", null, event.data); return; }
      handle(m);
    };
    socket.onclose = (event) => {
      // Exponential backoff: 0.5 s, 1 s, 2 s … up to 30 s, with some jitter.
      const delay = Math.min(30000, 500 * 2 ** attempt) * (0.8 + Math.random() * 0.4);
      attempt += 1;
      status.className = "reconnecting";
      status.textContent = `reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${attempt}; closed ${event.code} ${event.reason})`;
      setTimeout(connect, delay);
    };
  };
  connect();
  document.getElementById("form").onsubmit = (event) => {
    event.preventDefault();
    const input = document.getElementById("text");
    if (input.value && socket.readyState === WebSocket.OPEN) { socket.send(input.value); input.value = ""; }
  };
</script>
</body>
</html>
"""#
