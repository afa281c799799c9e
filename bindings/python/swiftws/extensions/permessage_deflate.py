"""permessage-deflate (RFC 7692) where websockets has it
(``websockets.extensions.permessage_deflate``), so that a program comparing
``connection.protocol.extensions`` with ``PerMessageDeflate`` works after changing its imports.
The native library negotiates and runs the extension (configured with ``compression=`` and
SwiftWS's own compression options, see ``swiftws._config``)."""

from __future__ import annotations

__all__ = ["PerMessageDeflate"]


class PerMessageDeflate:
    """permessage-deflate as agreed for a connection (an item of ``protocol.extensions``)."""

    name = "permessage-deflate"

    def __repr__(self) -> str:
        return "PerMessageDeflate()"
