"""HTTP Basic Authentication for servers (RFC 7617): ``basic_auth``, a ``process_request``
factory shaped like websockets'; on success the connection's ``username`` is set."""

from __future__ import annotations

import base64
import binascii
import hmac
import http
import inspect
from typing import Any, Awaitable, Callable, Iterable, Optional, Tuple, Union

from .exceptions import InvalidHeaderFormat, InvalidHeaderValue

__all__ = ["basic_auth", "parse_authorization_basic", "build_www_authenticate_basic"]

Credentials = Tuple[str, str]


def build_www_authenticate_basic(realm: str) -> str:
    """The WWW-Authenticate value asking for Basic credentials in ``realm``."""
    escaped = realm.replace("\\", "\\\\").replace('"', '\\"')
    return f'Basic realm="{escaped}", charset="UTF-8"'


def build_authorization_basic(username: str, password: str) -> str:
    """The ``Authorization`` value carrying Basic credentials (RFC 7617 section 2): what a client
    sends for a URI with user information, the reverse of ``parse_authorization_basic``."""
    if ":" in username:
        raise ValueError("a Basic username cannot contain ':'")
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def parse_authorization_basic(header: str) -> Tuple[str, str]:
    """(username, password) of an ``Authorization: Basic ...`` value; InvalidHeader otherwise."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidHeaderValue("Authorization", f"unsupported scheme: {scheme}")
    if not token or " " in token.strip():
        raise InvalidHeaderFormat("Authorization", "expected token68", header, len(scheme) + 1)
    try:
        user_pass = base64.b64decode(token.strip().encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidHeaderValue("Authorization", "expected base64-encoded credentials") from None
    username, sep, password = user_pass.partition(":")
    if not sep:
        raise InvalidHeaderValue("Authorization", "expected username:password credentials")
    return username, password


def _is_credentials(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and all(isinstance(item, str) for item in value)


def basic_auth(realm: str = "", credentials: Union[Credentials, Iterable[Credentials], None] = None,
               check_credentials: Optional[Callable[[str, str], Union[Awaitable[bool], bool]]] = None,
               ) -> Callable[[Any, Any], Awaitable[Any]]:
    """A ``process_request`` enforcing HTTP Basic Authentication: 401 with WWW-Authenticate
    for missing, unsupported or invalid credentials; on success ``connection.username`` is set.
    Give ``credentials`` (a pair or pairs) or ``check_credentials(username, password)`` (a
    function or coroutine), not both."""
    if (credentials is None) == (check_credentials is None):
        raise ValueError("provide either credentials or check_credentials")
    if credentials is not None:
        if _is_credentials(credentials):
            pairs = [credentials]
        elif isinstance(credentials, Iterable):
            pairs = list(credentials)  # type: ignore[arg-type]
            if not all(_is_credentials(item) for item in pairs):
                raise TypeError(f"invalid credentials argument: {credentials}")
        else:
            raise TypeError(f"invalid credentials argument: {credentials}")
        known = dict(pairs)  # type: ignore[arg-type]

        def check_credentials(username: str, password: str) -> bool:  # noqa: F811
            expected = known.get(username)
            return expected is not None and hmac.compare_digest(expected, password)

    checker = check_credentials

    async def process_request(connection: Any, request: Any) -> Any:
        def unauthorized(text: str) -> Any:
            response = connection.respond(http.HTTPStatus.UNAUTHORIZED, text)
            response.headers["WWW-Authenticate"] = build_www_authenticate_basic(realm)
            return response

        authorization = request.headers.get("Authorization")
        if authorization is None:
            return unauthorized("Missing credentials\n")
        try:
            username, password = parse_authorization_basic(authorization)
        except (InvalidHeaderFormat, InvalidHeaderValue):
            return unauthorized("Unsupported credentials\n")
        valid = checker(username, password)  # type: ignore[misc]
        if inspect.isawaitable(valid):
            valid = await valid
        if not valid:
            return unauthorized("Invalid credentials\n")
        connection.username = username
        return None

    return process_request
