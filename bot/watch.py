"""Which channels the bot watches for plain questions (a small JSON file beside the archive)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


class WatchedChannels:
    """Channel ids per server; every change is written at once (atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._channels: dict[str, set[int]] = {}
        self._lock = threading.Lock()

    def load(self) -> None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raw = {}
        with self._lock:
            self._channels = {g: set(map(int, ids)) for g, ids in raw.items()}

    def is_watched(self, guild_id: int, channel_id: int, parent_id: int | None = None) -> bool:
        """Whether the channel is watched; a thread (`parent_id` given) is watched with its
        channel or forum."""
        ids = self._channels.get(str(guild_id), ())
        return channel_id in ids or (parent_id is not None and parent_id in ids)

    def channels(self, guild_id: int) -> list[int]:
        """The server's watched channel ids, oldest channel first."""
        return sorted(self._channels.get(str(guild_id), ()))

    def set(self, guild_id: int, channel_id: int, watched: bool) -> bool:
        """Watch or unwatch; returns whether anything changed. Blocking: call it in a thread."""
        with self._lock:
            ids = self._channels.setdefault(str(guild_id), set())
            if (channel_id in ids) == watched:
                return False
            (ids.add if watched else ids.discard)(channel_id)
            data = {g: sorted(c) for g, c in self._channels.items() if c}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
            return True
