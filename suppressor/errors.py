"""Domain errors: what the core refuses or cannot find, in words. The API maps each to a status
once (api/errors.py); the CLI prints the same words."""

from __future__ import annotations


class Refused(ValueError):
    """A request that cannot be taken as it is: (field, reason in words) pairs; nothing was done."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{f}: {m}" for f, m in errors))


class Conflict(Exception):
    """The request clashes with work under way (a second training while one runs); retry later."""

    def __init__(self, title: str, detail: str):
        self.title, self.detail = title, detail
        super().__init__(detail)


class NotFound(KeyError):
    """Something named by the caller does not exist (``field`` names where it was named)."""

    def __init__(self, detail: str, field: str | None = None):
        self.detail, self.field = detail, field
        super().__init__(detail)

    def __str__(self) -> str:
        return self.detail


class Unavailable(Exception):
    """Something the request needs is not set up (``setting`` names what to set); nothing was done."""

    def __init__(self, detail: str, setting: str):
        self.detail, self.setting = detail, setting
        super().__init__(detail)
