"""WebSocket extensions where websockets has them (``websockets.extensions``): the native
library negotiates and runs them; these classes describe what a connection agreed."""
