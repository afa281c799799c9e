"""The blocking API of swiftws (``swiftws.sync.client`` / ``swiftws.sync.server``), shaped like
``websockets.sync``: for scripts and threads. Every object is safe to use from several threads."""
