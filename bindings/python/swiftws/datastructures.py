"""``Headers``: HTTP headers as ``websockets.datastructures.Headers`` holds them — a mapping with
case-insensitive names that keeps every value of a repeated name, in order."""

from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Mapping, MutableMapping, Tuple, Union

__all__ = ["Headers", "HeadersLike", "MultipleValuesError"]


class MultipleValuesError(LookupError):
    """``headers[name]`` when ``name`` has several values (use ``get_all``)."""

    def __str__(self) -> str:
        return f"{self.args[0]!r}" if len(self.args) == 1 else super().__str__()


class Headers(MutableMapping[str, str]):
    """Headers by case-insensitive name. ``headers[name] = value`` ADDS a value (as in
    websockets); ``del headers[name]`` removes every value; ``get_all(name)`` lists them;
    ``raw_items()`` gives (name, value) pairs as received or added; ``str(headers)`` is the
    HTTP/1.1 header block."""

    __slots__ = ["_dict", "_list"]

    def __init__(self, *args: "HeadersLike", **kwargs: str) -> None:
        self._dict: Dict[str, List[str]] = {}
        self._list: List[Tuple[str, str]] = []
        self.update(*args, **kwargs)

    def __str__(self) -> str:
        return "".join(f"{key}: {value}\r\n" for key, value in self._list) + "\r\n"

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self._list!r})"

    def copy(self) -> "Headers":
        copy = self.__class__()
        copy._dict = {key: list(values) for key, values in self._dict.items()}
        copy._list = list(self._list)
        return copy

    def serialize(self) -> bytes:
        return str(self).encode()

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __getitem__(self, key: str) -> str:
        value = self._dict[key.lower()]
        if len(value) == 1:
            return value[0]
        raise MultipleValuesError(key)

    def __setitem__(self, key: str, value: str) -> None:
        self._dict.setdefault(key.lower(), []).append(value)
        self._list.append((key, value))

    def __delitem__(self, key: str) -> None:
        key_lower = key.lower()
        self._dict.__delitem__(key_lower)
        self._list = [(k, v) for k, v in self._list if k.lower() != key_lower]

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._dict == other._dict

    def clear(self) -> None:
        self._dict = {}
        self._list = []

    def update(self, *args: "HeadersLike", **kwargs: str) -> None:  # type: ignore[override]
        """Adds every (name, value) of a mapping, a ``Headers`` or pairs, then of ``kwargs``."""
        if len(args) > 1:
            raise TypeError(f"update expected at most 1 argument, got {len(args)}")
        if args:
            source = args[0]
            if isinstance(source, Headers):
                pairs: Iterable[Tuple[str, str]] = source.raw_items()
            elif isinstance(source, Mapping):
                pairs = source.items()
            else:
                pairs = source
            for key, value in pairs:
                self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def get_all(self, key: str) -> List[str]:
        """Every value of ``key``, in order (empty if absent)."""
        return list(self._dict.get(key.lower(), []))

    def raw_items(self) -> Iterator[Tuple[str, str]]:
        """(name, value) pairs in order, names as spelled."""
        return iter(self._list)


HeadersLike = Union[Headers, Mapping[str, str], Iterable[Tuple[str, str]]]
