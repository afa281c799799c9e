"""The asyncio API of swiftws (``swiftws.asyncio.server`` / ``swiftws.asyncio.client``), shaped
like ``websockets.asyncio``. The native event loop runs inside the asyncio loop: no thread."""
