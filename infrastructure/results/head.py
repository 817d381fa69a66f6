"""The hash chains' heads as the ledger answers them: :class:`Head`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Head:
    """The hash chains' heads: the last event's position and hash (0 and "" before the first
    event), and the journal's last record's (None before the first journal row)."""

    position: int
    hash: str
    journal: tuple[int, str] | None = None

    def __str__(self) -> str:
        text = f"{self.position}:{self.hash}" if self.position else ""
        if self.journal is not None:
            text = f"{text} journal {self.journal[0]}:{self.journal[1]}".lstrip()
        return text

    @staticmethod
    def json_of(head: Head | None) -> dict[str, Any]:
        """``{"position", "hash", "journal", "head"}``; an empty log has position 0 and no hash,
        an empty journal no ``journal``; ``head`` is the text ``orderledger head`` prints."""
        if head is None:
            return {"position": 0, "hash": None, "journal": None, "head": None}
        return {
            "position": head.position,
            "hash": head.hash or None,
            "journal": None if head.journal is None else f"{head.journal[0]}:{head.journal[1]}",
            "head": str(head),
        }
