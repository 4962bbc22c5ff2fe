"""Files that prove themselves: each committed file's checksum (CRC-32, taken from its bytes as
they are written), checked once per process where the file is first read, before anything is
counted from it; and the one error type for a file a person must act on (damaged, missing, a
full disk), which the command line prints as one line naming the file and the next step."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
import threading
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa

CHUNK_BYTES = 1 << 20
RESTORE = ("restore it from a backup (the store still counts its orders; without the file they "
           "cannot be checked for re-sends, compacted or reviewed)")
RETRY = "then run the command again: it resumes from the last commit, nothing committed is lost"


class FileProblem(Exception):
    """A file a person must do something about: `path`, what is wrong with it, what to do."""

    def __init__(self, path: Path | str, what: str, advice: str) -> None:
        super().__init__(f"{path} {what}: {advice}")
        self.path, self.what, self.advice = str(path), what, advice


class MissingFile(FileProblem, FileNotFoundError):
    """A committed file that is not there (still a FileNotFoundError to who waits for one)."""


class GarbledFile(FileProblem, ValueError):
    """A JSON document that does not read (still the ValueError its readers expected)."""


def crc32_text(crc: int) -> str:
    return f"crc32:{crc:08x}"


def checksum_of(data: pa.Buffer | bytes) -> str:
    """Of bytes about to be written in one go."""
    return crc32_text(zlib.crc32(memoryview(data)))


class HashingFile(io.RawIOBase):
    """A file opened for writing that checksums the bytes as they go to it (for pyarrow's
    writers: `pa.PythonFile(HashingFile(path), mode="w")`)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._crc = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data)
        self._crc = zlib.crc32(view, self._crc)
        self._file.write(view)
        return view.nbytes

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()

    def checksum(self) -> str:
        return crc32_text(self._crc)


def file_checksum(path: Path | str) -> str:
    crc = 0
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            crc = zlib.crc32(chunk, crc)
    return crc32_text(crc)


class Checksums:
    """What each committed file must hash to (a commit recorded it) and which files this
    process has seen whole already: each file is read to be checked once per process, not on
    every read. By folder, then name (partitions in one process have parts of the same name);
    a folder holds only what is committed now, so a night of parts does not pile up here."""

    def __init__(self) -> None:
        self._expected: dict[str, dict[str, str]] = {}
        self._checked: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def committed(self, folder: Path, files: Iterable[tuple[str, str | None]]) -> None:
        """(name, checksum) of every file committed in `folder` now (a manifest's, the
        store's): the files it no longer names are forgotten. A None checksum (a file committed
        before checksums were kept) is not checked."""
        known: dict[str, dict[str, str]] = {}
        for name, checksum in files:
            where, base = _split(folder / name)
            mine = known.setdefault(where, {})
            if checksum is not None:
                mine[base] = checksum
        with self._lock:
            for where, mine in known.items():
                self._expected[where] = mine
                checked = self._checked.get(where, {})
                self._checked[where] = {n: c for n, c in checked.items() if mine.get(n) == c}

    def expect(self, path: Path, checksum: str) -> None:
        """One more file to check when first read (a cache's, named by its checksum)."""
        where, base = _split(path)
        with self._lock:
            self._expected.setdefault(where, {})[base] = checksum

    def written(self, path: Path, checksum: str) -> None:
        """This process wrote these bytes itself: no need to read them back."""
        where, base = _split(path)
        with self._lock:
            self._expected.setdefault(where, {})[base] = checksum
            self._checked.setdefault(where, {})[base] = checksum

    def forget(self, folder: Path, names: Iterable[str]) -> None:
        """Files deleted (compacted away)."""
        where = _split(folder / "_")[0]
        with self._lock:
            for name in names:
                self._expected.get(where, {}).pop(name, None)
                self._checked.get(where, {}).pop(name, None)

    def verify(self, paths: Iterable[str | Path]) -> None:
        """Raises FileProblem for the first of `paths` whose bytes are not what its commit
        recorded (or that is missing)."""
        for path in paths:
            where, base = _split(path)
            want = self._expected.get(where, {}).get(base)
            if want is None or self._checked.get(where, {}).get(base) == want:
                continue
            try:
                got = file_checksum(path)
            except FileNotFoundError:
                raise missing(path) from None
            if got != want:
                raise FileProblem(path, f"is damaged (checksum {got}, expected {want})", RESTORE)
            with self._lock:
                self._checked.setdefault(where, {})[base] = want


def _split(path: Path | str) -> tuple[str, str]:
    full = os.path.abspath(path)
    return os.path.dirname(full), os.path.basename(full)


CHECKSUMS = Checksums()


def missing(path: Path | str) -> MissingFile:
    return MissingFile(path, "is missing (a commit names it)", RESTORE)


def unreadable(path: Path | str, err: BaseException) -> FileProblem:
    return FileProblem(path, f"cannot be read ({_first_line(err)})", RESTORE)


_FULL = (errno.ENOSPC, errno.EDQUOT)


def problem_of(err: BaseException, path: Path | str | None = None) -> FileProblem | None:
    """`err` (an OS or DuckDB error, while writing or reading `path`) as a FileProblem, when it
    is about a file a person can act on; None for anything else."""
    if isinstance(err, FileProblem):
        return err
    text = _first_line(err)
    if isinstance(err, OSError):
        path = path or err.filename
        code = err.errno
    elif is_duckdb_error(err):
        code = next((c for c, words in _DUCKDB_WORDS if any(w in text for w in words)), None)
    else:
        return None
    if path is None:
        return None
    if code in _FULL:
        return FileProblem(path, f"could not be written: the disk is full ({text})",
                           f"free space on its disk, {RETRY}")
    if code == errno.EFBIG:
        return FileProblem(path, f"could not be written: the file is larger than this process "
                           f"may write ({text})",
                           f"raise the limit (ulimit -f) or free space, {RETRY}")
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return FileProblem(path, f"cannot be used ({text})",
                           f"make the data dir readable and writable by this user, {RETRY}")
    if is_duckdb_error(err) and any(w in text for w in ("Corrupt", "not a valid DuckDB")):
        return FileProblem(path, f"is damaged ({text})", "restore it from a backup (it holds "
                           "the stream position and the totals: the history files alone cannot "
                           "make it again)")
    if is_duckdb_error(err):
        return FileProblem(path, f"failed ({type(err).__name__}: {text})",
                           f"see the log above; {RETRY}")
    return None


_DUCKDB_WORDS = ((errno.ENOSPC, ("No space left", "disk is full", "out of disk")),
                 (errno.EFBIG, ("File too large",)),
                 (errno.EROFS, ("Read-only file system",)),
                 (errno.EACCES, ("Permission denied",)))


@contextlib.contextmanager
def about(path: Path | str) -> Iterator[None]:
    """OS and DuckDB errors raised inside, as a FileProblem naming `path` where one fits."""
    try:
        yield
    except Exception as err:
        problem = problem_of(err, path)
        if problem is None or problem is err:
            raise
        raise problem from err


def is_duckdb_error(err: BaseException) -> bool:
    """Without importing DuckDB (the command line does not need it to start)."""
    duckdb = sys.modules.get("duckdb")
    return duckdb is not None and isinstance(err, duckdb.Error)


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return (lines[0] if lines else type(err).__name__)[:200]
