"""Stream entries as the worker reads them: ids and payloads side by side, in id order."""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter


@dataclass
class Entries:
    """A batch of stream entries, in id order, as two parallel lists."""

    ids: list[bytes]
    payloads: list[bytes]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_reply(cls, entries: list) -> Entries:
        """Raw XREADGROUP/XAUTOCLAIM entries [id, [b'data', payload]]; an entry trimmed away
        while pending has no fields and is judged as an empty payload."""
        ids = list(map(itemgetter(0), entries))
        payloads = [fields[1] if fields else b"" for fields in map(itemgetter(1), entries)]
        return cls(ids, payloads)

    def after(self, entry_id: str | None) -> Entries:
        if entry_id is None or id_key(self.ids[0]) > id_key(entry_id):
            return self
        done = id_key(entry_id)
        keep = [i for i, e in enumerate(self.ids) if id_key(e) > done]
        return Entries([self.ids[i] for i in keep], [self.payloads[i] for i in keep])


def id_key(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)
