"""The study's cache of finished cells on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from features import atomic_write

__all__ = ["CellCache"]


# ----------------------------------------------------------------------------------- the cache
class CellCache:
    """Finished cells on disk, one JSON file per cell key, written atomically (a study stopped
    mid-write leaves no half file). Only the driver writes: workers return results."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Any | None:
        try:
            return json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, payload: Any) -> None:

        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(self._path(key)) as tmp:
            tmp.write_text(json.dumps(payload, default=float))
