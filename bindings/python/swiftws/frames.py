"""Close codes and close frames, as ``websockets.frames`` names them (``CloseCode``, ``Close``),
for ``ConnectionClosed.rcvd`` / ``.sent``. The frames themselves are the native library's."""

from __future__ import annotations

import dataclasses
import enum

__all__ = ["CloseCode", "Close", "OK_CLOSE_CODES", "CLOSE_CODE_EXPLANATIONS"]


class CloseCode(enum.IntEnum):
    """Close codes of RFC 6455 section 7.4.1 (and 1012-1015 of the IANA registry)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RCVD = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015


#: What each code means, in the words ``str(Close)`` uses (websockets' wording).
CLOSE_CODE_EXPLANATIONS = {
    1000: "OK", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
    1005: "no status received [internal]", 1006: "abnormal closure [internal]",
    1007: "invalid frame payload data", 1008: "policy violation", 1009: "message too big",
    1010: "mandatory extension", 1011: "internal error", 1012: "service restart",
    1013: "try again later", 1014: "bad gateway", 1015: "TLS handshake failure [internal]",
}

#: Codes of a normal closure.
OK_CLOSE_CODES = frozenset({1000, 1001, 1005})


@dataclasses.dataclass
class Close:
    """The code and reason of a close frame received or sent."""

    code: int
    reason: str

    def __str__(self) -> str:
        if 3000 <= self.code < 4000:
            explanation = "registered"
        elif 4000 <= self.code < 5000:
            explanation = "private use"
        else:
            explanation = CLOSE_CODE_EXPLANATIONS.get(self.code, "unknown")
        result = f"{self.code} ({explanation})"
        return f"{result} {self.reason}" if self.reason else result
