"""The stream reader through a real Redis: what it reads straight off the socket is what redis-py
reads (entries without data, data twice or not first, payloads far over the contract's limit,
an epoch marker, a stream that does not exist yet), and a cut connection is a ConnectionError."""

from __future__ import annotations

import pytest
import redis

from ingest.continuity import StreamInfo
from ingest.read import Entries, StreamReader, epoch_key
from ingest.wire import COMPILED, supports

STREAM = "gmv:orders"


def read_all(client: redis.Redis, count: int, compiled: bool = True) -> tuple[
        StreamReader, list[Entries]]:
    reader = StreamReader(client, STREAM, None, count, 10, compiled=compiled)
    batches = []
    for entries in reader.batches():
        if not entries:
            break
        batches.append(entries)
    return reader, batches


def test_the_reader_reads_what_redis_py_reads(redis_client: redis.Redis) -> None:
    connection = redis_client.connection_pool.get_connection()
    assert supports(connection) == COMPILED  # the worker's clients speak RESP2
    redis_client.connection_pool.release(connection)
    redis_client.set(epoch_key(STREAM), b"epoch-1")
    fields: list[dict[str, bytes]] = [
        {"data": b'{"order_id":"a"}'}, {"payload": b"x"}, {"a": b"1", "data": b"second"},
        {"data": b"first", "data2": b"x"}, {"data": b"x" * 100_000}, {"data": b""},
        {"data": bytes(range(256)) * 4_096}, *({"data": b"%d" % i} for i in range(50))]
    for entry in fields:
        redis_client.xadd(STREAM, entry)  # type: ignore[arg-type]
    reader, batches = read_all(redis_client, 7)
    read = Entries.joined(batches)
    raw = redis.Redis(connection_pool=redis_client.connection_pool).execute_command(
        "XRANGE", STREAM, "-", "+")
    expected = Entries.from_reply([[entry_id, [part for name, value in f.items()
                                               for part in (name.encode(), value)]]
                                   for (entry_id, _), f in zip(raw, fields, strict=True)])
    assert read.ids == expected.ids
    assert read.payloads == expected.payloads
    assert read.payloads[1] is None and read.payloads[2] == b"second"
    assert read.has_data.tolist() == expected.has_data.tolist()
    assert reader.marker == b"epoch-1"
    assert StreamInfo.from_reply(reader.info).length == len(fields)  # type: ignore[arg-type]
    parsed_reader, parsed = read_all(redis_client, 7, compiled=False)  # redis-py's parser
    assert Entries.joined(parsed).payloads == read.payloads
    assert (parsed_reader.marker, parsed_reader.info) == (reader.marker, reader.info)


def test_a_stream_that_does_not_exist_reads_as_empty_with_no_info(
        redis_client: redis.Redis) -> None:
    reader = StreamReader(redis_client, "gmv:nothing", None, 100, 10)
    batches = reader.batches()
    assert len(next(batches)) == 0
    assert reader.info is None and reader.marker is None
    batches.close()


def test_a_cut_connection_is_a_connection_error(redis_client: redis.Redis) -> None:
    for i in range(30):
        redis_client.xadd(STREAM, {"data": b"%d" % i})
    reader = StreamReader(redis_client, STREAM, None, 10, 10)
    batches = reader.batches()
    assert len(next(batches)) == 10
    redis_client.client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(redis.ConnectionError):
        for _ in range(5):  # the reply already received may still be read whole
            next(batches)
