"""Files prove themselves: the checksum taken while writing is the one read back, a damaged
file is named, each file is read to be checked once, and an OS error becomes a line to act on."""

from __future__ import annotations

import errno
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.integrity import Checksums, FileProblem, HashingFile, file_checksum, problem_of


def written(path: Path) -> str:
    with HashingFile(path) as out, pa.PythonFile(out, mode="w") as sink:
        pq.write_table(pa.table({"cents": list(range(1000))}), sink)
    return out.checksum()


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_the_checksum_taken_while_writing_is_the_one_read_back(tmp_path: Path) -> None:
    path = tmp_path / "hour.parquet"
    assert written(path) == file_checksum(path)


def test_a_damaged_file_is_refused_naming_it_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    checksums = Checksums()
    checksums.committed(tmp_path, [(path.name, written(path))])
    flip(path)
    with pytest.raises(FileProblem, match=r"part.parquet is damaged \(checksum crc32:\w{8}, "
                                          r"expected crc32:\w{8}\): restore it from a backup"):
        checksums.verify([str(path)])


def test_a_file_is_read_to_be_checked_once_per_process(tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    checksums = Checksums()
    checksums.committed(tmp_path, [(path.name, written(path))])
    checksums.verify([path])
    flip(path)  # after its first read: this process has it right already
    checksums.verify([path])


def test_a_file_without_a_checksum_or_no_longer_committed_is_not_checked(tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    checksum = written(path)
    flip(path)
    checksums = Checksums()
    checksums.committed(tmp_path, [(path.name, None)])
    checksums.verify([path])
    checksums.committed(tmp_path, [(path.name, checksum)])
    checksums.forget(tmp_path, [path.name])
    checksums.verify([path])


def test_a_missing_file_is_still_a_file_not_found(tmp_path: Path) -> None:
    checksums = Checksums()
    checksums.committed(tmp_path, [("part.arrow", "crc32:00000000")])
    with pytest.raises(FileNotFoundError, match="part.arrow is missing"):
        checksums.verify([tmp_path / "part.arrow"])


@pytest.mark.parametrize(("code", "says"), [
    (errno.ENOSPC, "the disk is full"),
    (errno.EFBIG, "larger than this process may write"),
    (errno.EROFS, "make the data dir readable and writable"),
])
def test_a_write_that_failed_is_one_line_naming_the_file(code: int, says: str) -> None:
    problem = problem_of(OSError(code, "no", "/data/gmv.duckdb.wal"))
    assert problem is not None
    line = str(problem)
    assert line.startswith("/data/gmv.duckdb.wal ") and says in line and "\n" not in line
    assert "nothing committed is lost" in line


def test_other_errors_are_not_dressed_up() -> None:
    assert problem_of(ValueError("bad")) is None
    assert problem_of(OSError(errno.ENOENT, "gone", "night.jsonl")) is None
