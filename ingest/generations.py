"""The dedupe table kept beside the store as memory-mapped files, one a generation of arrivals:
orders go into the newest, are looked up in all, and a whole generation's file is deleted once
everything it holds arrived behind the horizon. A start maps the files instead of rebuilding
the table from the history, when they can be proven to match the store.

Files, in `<data dir>/dedupe/`: `gen-<n>.table` (a 4 KiB header, then the slots: 8 bytes each,
ingest/dedupe.py) and `journal` (the undo journal). Why a mapped table never remembers an order
that was not committed, nor forgets one that was:
- slots are only ever filled between two generation changes; before a batch fills slots, their
  numbers are appended to the journal with the checkpoint they belong to (the store's next). A
  start empties the slots of every record above the store's committed checkpoint: what a crash
  between the table taking a batch and its commit left behind. A commit moves the headers'
  checkpoint to the store's and empties the journal.
- a kill -9 loses nothing the process wrote to a mapping or a file (the page cache keeps it).
  An OS crash can: a header says `clean` only after the whole file was msync'ed at a clean close,
  and names the boot that last opened it for writing; a file not clean from another boot is not
  trusted.
- every header names the store's key, the generations live (oldest, newest) and its checkpoint;
  a file missing, torn, foreign, of another key or a checkpoint the store does not have is not
  trusted either.
- every header is sealed by a digest of its words (a changed word: not trusted) and names the
  position of the store's checkpoint it was written at (another store's folder, even one cloned
  from the same empty store, is not trusted).
- every header keeps the checksum of its slots at its checkpoint (dedupe.slot_checksum), and
  every journal record what its slots added to it: a start sums the slots (~0.3 s a GiB) and
  refuses a file whose slots changed on disk (a flipped byte, a stray write): a changed slot
  could make a new order a "duplicate" (lost from GMV) or forget one the store took.
Whatever is not trusted: every file deleted, the table rebuilt from the history files
(ingest/judging.py remembered), said in one line (`dedupe_files_unusable`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from common.logs import log_line
from ingest.dedupe import MIN_SLOTS_LOG2, SeenOrders, slots_log2_for, table_checksum
from ingest.integrity import about

log = logging.getLogger("gmv.dedupe")
HEADER_WORDS = 512  # 4 KiB
MAGIC, VERSION = 0x50554445_44564D47, 3  # "GMVDEDUP"; 2: slot checksums; 3: sealed headers
MIN_GENERATION_ORDERS = 1 << 20  # far more than a checkpoint's orders
# The header's words.
(_MAGIC, _VERSION, _KEY, _GENERATION, _SPARE, _COUNT, _CHECKPOINT, _FIRST_ARRIVAL,
 _LAST_ARRIVAL, _OLDEST, _NEWEST, _BOOT, _CLEAN, _CHECKSUM, _POSITION, _SEAL) = range(16)
# A journal record: mark, checkpoint, generation, what it adds to the checksum, n, n slots.
_RECORD = 0x4A524E4C_32
_U = np.uint64


class Untrusted(Exception):
    """The files cannot be proven to match the store: rebuilt from the history."""


def dedupe_dir(data_dir: Path) -> Path:
    return data_dir / "dedupe"


def key_digest(key: tuple[int, int]) -> int:
    raw = key[0].to_bytes(8, "little") + key[1].to_bytes(8, "little")
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


def position_digest(position: str | None) -> int:
    """The store's committed position, as a header names it (0: none yet)."""
    if position is None:
        return 0
    return int.from_bytes(hashlib.blake2b(position.encode(), digest_size=8).digest(),
                          "little") | 1


def _seal(header: np.ndarray) -> int:
    return int.from_bytes(hashlib.blake2b(header[:_SEAL].tobytes(), digest_size=8).digest(),
                          "little")


def boot_digest() -> int:
    """This boot of the machine (a mapping's pages outlive a process, not a reboot)."""
    try:
        raw = Path("/proc/sys/kernel/random/boot_id").read_bytes()
    except OSError:
        return 0  # unknown: never equal to a recorded one, so only clean files are trusted
    return int.from_bytes(hashlib.blake2b(raw.strip(), digest_size=8).digest(), "little") | 1


class Generation:
    """One generation's mapped file: its header and its slots."""

    def __init__(self, path: Path) -> None:
        self.path = path
        size = path.stat().st_size
        slot_bytes = size - HEADER_WORDS * 8
        if slot_bytes < 8 << MIN_SLOTS_LOG2 or slot_bytes & (slot_bytes - 1):
            raise Untrusted(f"{path.name}: torn ({size} bytes)")
        with path.open("r+b") as file:
            self.map = mmap.mmap(file.fileno(), size)
        self.map.madvise(mmap.MADV_WILLNEED)  # read ahead now, not a page fault at a time
        words = np.frombuffer(self.map, _U)
        self.header, slots = words[:HEADER_WORDS], words[HEADER_WORDS:]
        if int(self.header[_MAGIC]) != MAGIC or int(self.header[_VERSION]) != VERSION:
            self.close()
            raise Untrusted(f"{path.name}: not a dedupe table")
        if int(self.header[_SEAL]) != _seal(self.header) or int(self.header[_SPARE]) > 8:
            self.close()
            raise Untrusted(f"{path.name}: its header changed on disk")
        self.number = int(self.header[_GENERATION])
        self.seen = SeenOrders(0, slots, int(self.header[_SPARE]), int(self.header[_COUNT]),
                               int(self.header[_CHECKSUM]))

    def word(self, index: int) -> int:
        return int(self.header[index])

    def set(self, **words: int) -> None:
        for name, value in words.items():
            self.header[_WORDS[name]] = _U(value)
        self.header[_SEAL] = _U(_seal(self.header))

    def sync_header(self) -> None:
        self.map.flush(0, HEADER_WORDS * 8)

    def sync_all(self) -> None:
        self.map.flush()

    def close(self) -> None:
        self.header = np.empty(0, _U)
        if hasattr(self, "seen"):
            self.seen.table = np.empty(0, _U)
        with contextlib.suppress(BufferError):  # a view still held: the mapping goes with it
            self.map.close()


_WORDS = {"key": _KEY, "count": _COUNT, "checkpoint": _CHECKPOINT,
          "first_arrival": _FIRST_ARRIVAL, "last_arrival": _LAST_ARRIVAL, "oldest": _OLDEST,
          "newest": _NEWEST, "boot": _BOOT, "clean": _CLEAN, "checksum": _CHECKSUM,
          "position": _POSITION}


def create_generation(folder: Path, number: int, orders: int, key: int, checkpoint: int,
                      arrival_s: int, oldest: int, position: int = 0,
                      temporary: bool = False) -> Generation:
    """A new empty generation's file, whole before its name appears. Its disk space is taken now
    (a full disk is said here, as any file's; a sparse file's pages filled later on a full disk
    killed the worker with SIGBUS, without a word); its pages cost memory once filled."""
    slots_log2 = slots_log2_for(orders)
    final = folder / f"gen-{number}.table"
    path = final.with_suffix(".tmp")
    with about(path), path.open("wb") as file:
        size = HEADER_WORDS * 8 + (8 << slots_log2)
        file.truncate(size)
        os.posix_fallocate(file.fileno(), 0, size)
        header = np.zeros(HEADER_WORDS, _U)
        for index, value in ((_MAGIC, MAGIC), (_VERSION, VERSION), (_KEY, key),
                             (_GENERATION, number), (_SPARE, 8), (_CHECKPOINT, checkpoint),
                             (_FIRST_ARRIVAL, arrival_s), (_LAST_ARRIVAL, arrival_s),
                             (_OLDEST, oldest), (_NEWEST, number), (_BOOT, boot_digest()),
                             (_POSITION, position)):
            header[index] = _U(value)
        header[_SEAL] = _U(_seal(header))
        file.write(header.tobytes())
        file.flush()
        os.fsync(file.fileno())
    if temporary:
        return Generation(path)
    os.replace(path, final)
    return Generation(final)


class Record(NamedTuple):
    checkpoint: int  # the store's checkpoint the change belongs to
    generation: int
    delta: int  # what it adds to the generation's checksum
    slots: np.ndarray


class Journal:
    """The slots filled since the last commit, each record tagged with its checkpoint."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)

    def records(self) -> list[Record]:
        """Every whole record; a torn last one (a kill in the middle of its write) changed no
        slot: its write comes first."""
        words = np.frombuffer(self.path.read_bytes()[: self.path.stat().st_size // 8 * 8], _U)
        found, at = [], 0
        while at + 5 <= len(words) and int(words[at]) == _RECORD:
            n = int(words[at + 4])
            if at + 5 + n > len(words):
                break
            found.append(Record(int(words[at + 1]), int(words[at + 2]), int(words[at + 3]),
                                words[at + 5:at + 5 + n]))
            at += 5 + n
        return found

    def record(self, checkpoint: int, generation: int, slots: np.ndarray, delta: int) -> None:
        head = np.array([_RECORD, checkpoint, generation, delta, len(slots)], _U)
        os.write(self.fd, head.tobytes() + slots.astype(_U).tobytes())

    def clear(self) -> None:
        os.ftruncate(self.fd, 0)

    def close(self) -> None:
        os.close(self.fd)


class Opened(NamedTuple):
    generations: list[Generation]
    undone: int  # slots emptied: taken by checkpoints the store never committed
    source: str = "files"  # "history": rebuilt from the history files


def open_generations(folder: Path, key: int, checkpoint: int,
                     position: int | None = None) -> Opened:
    """The live generations as the store's `checkpoint` (at `position`, a position_digest; None:
    not checked) left them, or Untrusted."""
    for stale in folder.glob("*.tmp"):
        stale.unlink()
    paths = sorted((p for p in folder.glob("gen-*.table") if p.stem[4:].isdigit()),
                   key=lambda p: int(p.stem[4:]))
    if not paths:
        raise Untrusted("no table files")
    generations: list[Generation] = []
    try:
        for path in paths:
            generations.append(Generation(path))
        live = _live(generations, key, checkpoint, position)
        _opened_for_writing(live)
        journal = folder / "journal"
        undone, committed = _undo(journal, live, checkpoint)
        _checked(live, committed, checkpoint, position)
        journal.write_bytes(b"")  # after the headers say what its records did
        return Opened(live, undone)
    except Untrusted:
        for generation in generations:
            generation.close()
        raise


def _live(generations: list[Generation], key: int, checkpoint: int,
          position: int | None) -> list[Generation]:
    boot = boot_digest()
    oldest = max(g.word(_OLDEST) for g in generations)
    newest = max(g.word(_NEWEST) for g in generations)
    for generation in [g for g in generations if g.number < oldest]:  # a drop cut short
        generation.close()
        generation.path.unlink()
    live = [g for g in generations if g.number >= oldest]
    if [g.number for g in live] != list(range(oldest, newest + 1)):
        raise Untrusted(f"generations {[g.number for g in live]}, the headers name "
                        f"{oldest}..{newest}")
    for generation in live:
        name = generation.path.name
        if generation.word(_KEY) != key:
            raise Untrusted(f"{name}: another store's key")
        behind = checkpoint - generation.word(_CHECKPOINT)
        if behind < 0:
            raise Untrusted(f"{name}: checkpoint {generation.word(_CHECKPOINT)} is ahead of "
                            f"the store's {checkpoint}")
        if behind > (0 if generation.word(_CLEAN) else 1):  # a crash between commit and header
            raise Untrusted(f"{name}: checkpoint {generation.word(_CHECKPOINT)}, the store's "
                            f"{checkpoint}")
        if not generation.word(_CLEAN) and generation.word(_BOOT) != boot:
            raise Untrusted(f"{name}: not closed cleanly before the machine restarted")
        # A crash between the commit and the headers leaves the position before: not checked.
        if position is not None and behind == 0 and generation.word(_POSITION) != position:
            raise Untrusted(f"{name}: written at another position than the store's (another "
                            f"store's files)")
    return live


def _opened_for_writing(live: list[Generation]) -> None:
    """Not clean any more, and this boot's, on disk before any of their slots changes."""
    boot = boot_digest()
    for generation in live:
        generation.set(boot=boot, clean=0)
        generation.sync_header()


def _undo(path: Path, live: list[Generation], checkpoint: int) -> tuple[int, dict[int, int]]:
    """The slots of checkpoints the store never committed emptied. Also what the committed
    records newer than each generation's header added to its checksum (a crash between the
    store's commit and the headers')."""
    committed: dict[int, int] = {}
    if not path.exists():
        return 0, committed
    by_number = {g.number: g for g in live}
    undone = 0
    touched: set[int] = set()
    for record in Journal(path).records():
        generation = by_number.get(record.generation)
        if generation is None:
            continue
        if len(record.slots) and int(record.slots.max()) >= len(generation.seen.table):
            raise Untrusted(f"journal: a record names a slot past {generation.path.name}")
        if record.checkpoint > checkpoint:
            generation.seen.table[record.slots.astype(np.int64)] = 0
            undone += len(record.slots)
            touched.add(record.generation)
        elif record.checkpoint > generation.word(_CHECKPOINT):
            committed[record.generation] = committed.get(record.generation, 0) + record.delta
            touched.add(record.generation)  # its header's count is a checkpoint behind
    for number in touched:
        generation = by_number[number]
        generation.seen.count = int(np.count_nonzero(generation.seen.table))
    return undone, committed


def _checked(live: list[Generation], committed: dict[int, int], checkpoint: int,
             position: int | None) -> None:
    """Each generation's slots sum to its header's checksum plus its committed records', or
    they changed on disk: Untrusted. The headers then say the store's checkpoint (on disk before
    the journal is emptied)."""
    for generation in live:
        expected = (generation.word(_CHECKSUM) + committed.get(generation.number, 0)) % (1 << 64)
        found = table_checksum(generation.seen.table)
        if found != expected:
            raise Untrusted(f"{generation.path.name}: its slots changed on disk (checksum "
                            f"{found:#x}, the header's {expected:#x})")
        generation.seen.checksum = found
        generation.set(checkpoint=checkpoint, count=generation.seen.count, checksum=found)
        if position is not None:
            generation.set(position=position)
        generation.sync_header()


class Generations:
    """The live generations of a store's dedupe table, taking batches and committing with it."""

    def __init__(self, folder: Path, generations: list[Generation], checkpoint: int,
                 generation_orders: int, reached: Callable[[str], None]) -> None:
        self.folder, self.live = folder, generations
        self.position = generations[-1].word(_POSITION)  # the last commit's, as headers say it
        self.generation_orders, self.reached = generation_orders, reached
        self.next_checkpoint = checkpoint + 1  # what the slots filled now belong to
        self.journal = Journal(folder / "journal")
        self.filled: set[int] = set()  # generations that took orders since the last commit
        _opened_for_writing(self.live)
        for generation in self.live:
            self._journaled(generation)

    @property
    def count(self) -> int:
        return sum(g.seen.count for g in self.live)

    @property
    def nbytes(self) -> int:
        return sum(len(g.seen.table) * 8 for g in self.live)

    def _journaled(self, generation: Generation) -> None:
        def before_fill(slots: np.ndarray, delta: int) -> None:
            self.journal.record(self.next_checkpoint, generation.number, slots, delta)
            self.filled.add(generation.number)
        generation.seen.before_fill = before_fill

    def first_seen(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        """Which were never seen (SeenOrders.first_seen over every live generation); they go
        into the newest, a new one when it is full."""
        while True:
            fresh = np.ones(len(h1), bool)
            for generation in self.live[:-1]:
                fresh &= ~generation.seen.contains(h1, h2)
            chosen = np.flatnonzero(fresh)
            taken = self.live[-1].seen.try_first_seen(h1[chosen], h2[chosen])
            if taken is not None:
                new = np.zeros(len(h1), bool)
                new[chosen[taken]] = True
                return new
            if self.live[-1].seen.count == 0:
                raise MemoryError("a batch larger than a dedupe generation")
            newest = self.live[-1]
            self.add_generation(newest.word(_LAST_ARRIVAL), self.next_checkpoint - 1)

    def add_generation(self, arrival_s: int, checkpoint: int) -> None:
        """A new newest generation: its file first, then the others' headers name it."""
        number = self.live[-1].number + 1
        generation = create_generation(self.folder, number, self.generation_orders,
                                       self.live[-1].word(_KEY), checkpoint, arrival_s,
                                       oldest=self.live[0].number, position=self.position)
        self._journaled(generation)
        self.live.append(generation)
        for each in self.live:
            each.set(newest=number)

    def committed(self, checkpoint: int, arrival_s: int | None, position: int = 0) -> None:
        """The store committed `checkpoint` (its newest arrival `arrival_s`, at `position`, a
        position_digest): every slot filled since is the store's; the headers say so, the
        journal forgets them."""
        self.position = position
        for generation in self.live:
            if generation.number in self.filled and arrival_s is not None:
                generation.set(last_arrival=arrival_s)
            if generation.word(_FIRST_ARRIVAL) == 0 and arrival_s is not None:
                generation.set(first_arrival=arrival_s, last_arrival=arrival_s)
            generation.set(checkpoint=checkpoint, count=generation.seen.count,
                           checksum=generation.seen.checksum, position=position)
        self.filled.clear()
        self.journal.clear()
        self.next_checkpoint = checkpoint + 1

    def age(self, arrival_s: int, horizon_s: int, checkpoint: int) -> None:
        """Right after a commit: a new generation every half horizon of arrivals; a generation
        whose every order arrived behind the horizon deleted whole."""
        newest = self.live[-1]
        if arrival_s - newest.word(_FIRST_ARRIVAL) >= horizon_s // 2 and newest.seen.count:
            self.add_generation(arrival_s, checkpoint)
        behind = [g for g in self.live[:-1] if g.word(_LAST_ARRIVAL) < arrival_s - horizon_s]
        if not behind:
            return
        kept = self.live[len(behind):]
        for generation in kept:  # first the headers: a drop cut short is finished at start
            generation.set(oldest=kept[0].number)
        self.reached("inside_generation_drop")
        for generation in behind:
            generation.close()
            generation.path.unlink()
        self.live = kept

    def close(self, clean: bool) -> None:
        """`clean`: everything written to disk first (msync), so the files outlive an OS
        crash; else (a crash-only end) as a kill would leave them."""
        for generation in self.live:
            if clean:
                generation.sync_all()
                generation.set(clean=1)
                generation.sync_header()
            generation.close()
        self.journal.close()


def fresh_generation(folder: Path, orders: int, key: int, checkpoint: int,
                     arrival_s: int, position: int = 0) -> Generation:
    """The one generation a rebuild fills (under a temporary name until it is whole, so a crash
    in the middle leaves nothing trusted): every older file deleted first."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("gen-*.table"), *folder.glob("*.tmp"), folder / "journal"]:
        old.unlink(missing_ok=True)
    return create_generation(folder, 0, orders, key, checkpoint, arrival_s, oldest=0,
                             position=position, temporary=True)


def finish_rebuild(generation: Generation) -> Generation:
    """The rebuilt generation under its name: from now on a start trusts it."""
    generation.set(count=generation.seen.count, checksum=generation.seen.checksum)
    final = generation.path.with_suffix(".table")
    os.replace(generation.path, final)
    generation.path = final
    return generation


def generation_orders(dedupe_orders: int) -> int:
    """Each generation is sized for half the orders remembered within the horizon (a full one
    gives way to a new one, so the memory follows the orders)."""
    return max(MIN_GENERATION_ORDERS, -(-dedupe_orders // 2))


def said_unusable(reason: str, folder: Path) -> None:
    log_line(log, logging.WARNING, "dedupe_files_unusable", folder=folder, reason=reason,
             action="rebuilt from the history files")

