/// The chat page the demo serves at `/`: plain HTML and the browser's own WebSocket, no framework.
let demoPage = """
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>SwiftWS demo chat</title>
<style>
  body { font: 15px system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; }
  #log { border: 1px solid #ccc; height: 22rem; overflow-y: auto; padding: .5rem; white-space: pre-wrap; }
  #status { color: #666; }
  form { display: flex; gap: .5rem; margin-top: .5rem; }
  input { flex: 1; padding: .4rem; }
</style>
</head>
<body>
<h1>SwiftWS demo chat</h1>
<p id="status">connecting…</p>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="say something, or /join ROOM"><button>Send</button></form>
<script>
  const room = location.hash.slice(1) || "lobby";
  const log = document.getElementById("log");
  const status = document.getElementById("status");
  const show = (line) => { log.textContent += line + "\\n"; log.scrollTop = log.scrollHeight; };
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/${encodeURIComponent(room)}`);
  socket.onopen = () => { status.textContent = `connected to room ${room} (${socket.extensions || "no extensions"})`; };
  socket.onmessage = (event) => show(event.data);
  socket.onclose = (event) => { status.textContent = `closed: ${event.code} ${event.reason}`; };
  document.getElementById("form").onsubmit = (event) => {
    event.preventDefault();
    const input = document.getElementById("text");
    if (input.value && socket.readyState === WebSocket.OPEN) { socket.send(input.value); input.value = ""; }
  };
</script>
</body>
</html>
"""
