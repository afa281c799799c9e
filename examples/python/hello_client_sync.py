#!/usr/bin/env python
# From the websockets documentation (quick start, client with the threading API); only the
# import line differs.

from swiftws.sync.client import connect

def hello():
    with connect("ws://localhost:8765") as websocket:
        websocket.send("Hello world!")
        message = websocket.recv()
        print(f"Received: {message}")

hello()
