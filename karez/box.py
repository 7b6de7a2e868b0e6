"""Case-insensitive dict with attribute access, the shape of a role's configuration."""

from __future__ import annotations

from typing import Any


class ConfigBox(dict[str, Any]):
    """A dict whose `get`, `[key]` and `.attr` lookups ignore key case; nested dicts are boxes too.

    `key in box` stays case-sensitive, as with upstream Dynaconf boxes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # where the mapping came from (`file:line`), for error messages
        self.__dict__["origin"] = getattr(args[0], "origin", "") if args else ""
        for key, value in list(dict.items(self)):
            dict.__setitem__(self, key, _boxed(value))
        self._folded = {str(key).lower(): key for key in dict.keys(self)}

    def _real_key(self, key: Any) -> Any:
        if dict.__contains__(self, key):
            return key
        if isinstance(key, str):
            return self._folded.get(key.lower(), key)
        return key

    def __getitem__(self, key: Any) -> Any:
        return dict.__getitem__(self, self._real_key(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        key = self._real_key(key)
        dict.__setitem__(self, key, _boxed(value))
        self._folded[str(key).lower()] = key

    def __delitem__(self, key: Any) -> None:
        key = self._real_key(key)
        dict.__delitem__(self, key)
        self._folded.pop(str(key).lower(), None)

    def get(self, key: Any, default: Any = None) -> Any:
        """Case-insensitive `dict.get`."""
        key = self._real_key(key)
        return dict.get(self, key, default)

    def has(self, key: str) -> bool:
        """Case-insensitive membership test."""
        return dict.__contains__(self, self._real_key(key))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts/lists, e.g. for JSON output."""
        return {k: _unboxed(v) for k, v in dict.items(self)}

    def __reduce__(self) -> tuple[type[ConfigBox], tuple[dict[str, Any]]]:  # keep pickling/copying simple
        return (ConfigBox, (self.to_dict(),))


def _boxed(value: Any) -> Any:
    if isinstance(value, ConfigBox):
        return value
    if isinstance(value, dict):
        return ConfigBox(value)
    if isinstance(value, list):
        return [_boxed(v) for v in value]
    return value


def _unboxed(value: Any) -> Any:
    if isinstance(value, ConfigBox):
        return value.to_dict()
    if isinstance(value, list):
        return [_unboxed(v) for v in value]
    return value
