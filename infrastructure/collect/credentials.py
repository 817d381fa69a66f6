"""A collector's credentials: from ``ORDERLEDGER_<VENUE>_<NAME>`` environment variables or an
owner-only file, and never shown.

The file holds ``NAME=VALUE`` lines (``#`` comments, blank lines; ``NAME`` as the registry names
the credential, e.g. ``token``, or as its variable, ``ORDERLEDGER_TRADIER_TOKEN``) or one JSON
object. A file that its group or others may read is refused before it is read. A value is a
:class:`Secret`: its ``repr`` and ``str`` are masked, so no log line, error or status shows it;
a source asks for the text with ``reveal()`` where it builds a request.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from orderledger.infrastructure.errors import ConfigurationError


class Secret:
    """A credential's value, masked wherever it could be printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Credentials:
    """The credentials given, by name."""

    values: Mapping[str, Secret] = field(default_factory=dict)

    def get(self, name: str) -> Secret | None:
        return self.values.get(name)

    @staticmethod
    def variable(venue: str, name: str) -> str:
        """The environment variable of a credential: ``ORDERLEDGER_TRADIER_TOKEN``."""
        return f"ORDERLEDGER_{venue.upper().replace('-', '_')}_{name.upper()}"

    @classmethod
    def load(
        cls,
        venue: str,
        names: tuple[str, ...],
        *,
        path: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Credentials:
        """The credentials ``names`` of ``venue``: from the file at ``path`` when given, else from
        the environment."""
        environ = os.environ if env is None else env
        if path is None:
            found = {
                n: Secret(environ[cls.variable(venue, n)])
                for n in names
                if environ.get(cls.variable(venue, n))
            }
            return cls(found)
        given = _read_file(path)
        found = {}
        for name in names:
            value = given.get(name) or given.get(cls.variable(venue, name))
            if value:
                found[name] = Secret(value)
        return cls(found)


def _read_file(path: str) -> dict[str, str]:
    """A credentials file's names and values; refused if anyone but its owner may read it."""
    where = Path(path)
    try:
        mode = where.stat().st_mode
    except OSError as error:
        raise ConfigurationError(f"--credentials-file {path}: {error.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"--credentials-file {path} may be read by others (mode {stat.S_IMODE(mode):o}):"
            " allow its owner only (chmod 600)"
        )
    try:
        text = where.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(
            f"--credentials-file {path}: cannot be read ({type(error).__name__})"
        ) from None
    if text.lstrip().startswith("{"):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ConfigurationError(f"--credentials-file {path}: not a JSON object") from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"--credentials-file {path}: not a JSON object")
        return {str(k): str(v) for k, v in data.items()}
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, equals, value = stripped.partition("=")
        if not equals:
            # The line is not shown: it may be a bare secret.
            raise ConfigurationError(f"--credentials-file {path}: line {number} is not NAME=VALUE")
        out[name.strip()] = value.strip().strip("'\"")
    return out


__all__ = ["Credentials", "Secret"]
