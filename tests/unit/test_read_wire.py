"""The compiled reader (ingest/_resp.c, ingest/wire.py) whatever the bytes: any bytes thrown at its
RESP parser and at its canonical-form decoder get an answer or a ValueError, never a crash or a
read out of bounds; a well-formed XREAD reply, however it is split across receives, gives the
entries redis-py's parser gives; the compiled decoder and the numpy one give every entry the
reference judge's fate."""

from __future__ import annotations

import socket
import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import contract
from ingest.decode import decode_batch
from ingest.read import Entries
from ingest.wire import COMPILED, Replied, Wire
from tests.unit.test_decode import ARRIVAL_MS, assert_same_as_reference, entries, payloads

pytestmark = pytest.mark.skipif(not COMPILED, reason="ingest._resp is not built")
if COMPILED:
    from ingest import _resp


def resp(value: Any) -> bytes:
    """A value as Redis would send it (RESP2)."""
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if isinstance(value, int):
        return b":%d\r\n" % value
    return b"*%d\r\n" % len(value) + b"".join(map(resp, value))


def xread_reply(batch: list[tuple[bytes, list[bytes] | None]]) -> bytes:
    if not batch:
        return b"*-1\r\n"
    return resp([[b"gmv:orders", [[entry_id, fields] for entry_id, fields in batch]]]).replace(
        b"*0\r\n\x00none", b"*-1\r\n")


field_names = st.sampled_from([b"data", b"reason", b"x", b"", b"DATA", b"data "])
values = st.one_of(st.binary(max_size=40), payloads.filter(lambda p: p is not None),
                   st.just(b"{" * 20_000))
fields = st.lists(st.tuples(field_names, values), max_size=4).map(
    lambda pairs: [part for pair in pairs for part in pair])
stream_entries = st.lists(st.tuples(
    st.tuples(st.integers(0, 2**48), st.integers(0, 2**63)).map(lambda t: b"%d-%d" % t), fields),
    max_size=30)
resp_tokens = st.lists(st.one_of(
    st.sampled_from([b"*", b"$", b":", b"+", b"-", b"\r\n", b"\r", b"\n", b"-1", b"0", b"1",
                     b"2", b"3", b"99999999999999999999", b"data", b"1-1"]),
    st.binary(max_size=5)), max_size=60).map(b"".join)


def test_the_compiled_limits_are_the_contracts() -> None:
    assert (_resp.PAYLOAD_MAX_BYTES, _resp.QUANTITY_MAX, _resp.TS_MIN_MS, _resp.TS_MAX_MS,
            _resp.MAX_AMOUNT_CENTS) == (contract.PAYLOAD_MAX_BYTES, contract.QUANTITY_MAX,
                                        contract.TS_MIN_MS, contract.TS_MAX_MS,
                                        contract.MAX_AMOUNT_CENTS)


def answer_or_value_error(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except ValueError:
        return None


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), resp_tokens,
                 stream_entries.map(xread_reply).flatmap(
                     lambda r: st.tuples(st.integers(0, len(r)), st.binary(max_size=3)).map(
                         lambda cut: r[:cut[0]] + cut[1] + r[cut[0] + len(cut[1]):]))))
def test_any_bytes_get_an_answer_or_a_value_error_from_the_resp_parser(data: bytes) -> None:
    found = answer_or_value_error(_resp.Scanner().complete, data, 0, len(data))
    assert found is None or -1 <= found <= len(data)
    parsed = answer_or_value_error(_resp.value, data, 0, len(data))
    assert parsed is None or 0 < parsed[1] <= len(data)
    read = answer_or_value_error(_resp.xread, data, 0, len(data))
    assert read is None or 0 < read[-1] <= len(data)
    if found is not None and found >= 0 and read is not None:
        assert read[-1] == found  # where the scanner says the reply ends


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(stream_entries, st.data())
def test_an_xread_reply_gives_the_entries_redis_py_gives(batch: list, data: st.DataObject) -> None:
    reply = xread_reply(batch)
    tail = data.draw(st.binary(max_size=8))
    scanner = _resp.Scanner()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(reply)), max_size=6)))
    for cut in cuts:  # the reply arriving in pieces: not complete until it is all there
        assert scanner.complete(reply + tail, 0, cut) == (len(reply) if cut == len(reply) else -1)
        if cut == len(reply):  # found: the scanner goes on to the next reply
            scanner.restart(0)
    assert scanner.complete(reply + tail, 0, len(reply + tail)) == len(reply)
    replied = Entries.from_buffers(Replied(*[
        np.frombuffer(part, np.bool_ if k == 5 else np.int64) if k in (1, 2, 4, 5) else part
        for k, part in enumerate(_resp.xread(reply + tail, 0, len(reply))[1:7])]))
    parsed = Entries.from_reply([[i, f] for i, f in batch])
    assert len(replied) == len(parsed) == len(batch)
    assert replied.ids == parsed.ids
    assert replied.payloads == parsed.payloads
    assert replied.has_data.tolist() == parsed.has_data.tolist()
    assert replied.buffer == parsed.buffer
    assert replied.offsets.tolist() == parsed.offsets.tolist()
    if batch:
        assert replied.arrivals_ms().tolist() == parsed.arrivals_ms().tolist()


def test_values_come_as_redis_py_gives_them_and_errors_as_values() -> None:
    reply = resp([b"length", 3, b"first-entry", [b"1-1", [b"data", b"x"]], None]) + \
        b"+OK\r\n-ERR no such key\r\n*-1\r\n"
    value, end = _resp.value(reply, 0, len(reply))
    assert value == [b"length", 3, b"first-entry", [b"1-1", [b"data", b"x"]], None]
    assert _resp.value(reply, end, len(reply))[0] == b"OK"
    error, after = _resp.value(reply, end + 5, len(reply))
    assert isinstance(error, _resp.ReplyError) and str(error) == "ERR no such key"
    assert _resp.value(reply, after, len(reply)) == (None, len(reply))
    extremes = resp([2**63 - 1, -(2**63 - 1)])
    assert _resp.value(extremes, 0, len(extremes))[0] == [2**63 - 1, -(2**63 - 1)]
    with pytest.raises(ValueError):
        _resp.value(b":9223372036854775808\r\n", 0, 22)


def test_nesting_past_the_limit_is_refused_not_recursed() -> None:
    deep = b"*1\r\n" * 100_000 + b":1\r\n"
    with pytest.raises(ValueError):
        _resp.Scanner().complete(deep, 0, len(deep))
    with pytest.raises(ValueError):
        _resp.value(deep, 0, len(deep))


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.lists(st.integers(-5, 420), max_size=12), st.data())
def test_any_bytes_and_offsets_get_an_answer_or_a_value_error_from_the_decoder(
        buffer: bytes, bounds: list[int], data: st.DataObject) -> None:
    offsets = np.array(data.draw(st.sampled_from([bounds, sorted(bounds)])) or [0], np.int64)
    has_data = np.array(data.draw(st.lists(st.booleans(), min_size=len(offsets) - 1,
                                           max_size=len(offsets) - 1)), np.bool_)
    found = answer_or_value_error(_resp.canonical, buffer, offsets, has_data)
    if found is not None:
        rows = np.frombuffer(found[0], np.int64)
        assert set(rows.tolist()) <= set(np.flatnonzero(has_data).tolist())


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, max_size=60))
def test_the_compiled_and_numpy_decoders_give_the_same_fates(batch: list[bytes | None]) -> None:
    assert_same_as_reference(batch)  # the compiled path, as the worker runs it
    compiled = decode_batch(entries(batch), contract.FUTURE_TS_MARGIN_MS, compiled=True)
    numpy = decode_batch(entries(batch), contract.FUTURE_TS_MARGIN_MS, compiled=False)
    assert compiled.rejected == numpy.rejected
    assert compiled.orders.equals(numpy.orders)


def test_each_entry_is_judged_against_its_own_arrival(order_factory: Any) -> None:
    """Entries of one batch arrive over time: an order stamped 4 minutes after the batch's first
    entry is in time when its own entry came 2 minutes later."""
    early, late = ARRIVAL_MS, ARRIVAL_MS + 120_000
    payload = order_factory(ts_ms=ARRIVAL_MS + 240_000).to_payload()
    batch = Entries([b"%d-0" % early, b"%d-0" % late], [payload, payload])
    for compiled in (True, False):
        decoded = decode_batch(batch, 180_000, compiled=compiled)
        assert decoded.orders["index"].to_pylist() == [1]
        assert [i for i, _ in decoded.rejected] == [0]


class _SocketConnection:
    """The two things Wire uses of a redis-py connection, over one end of a socket pair."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def send_packed_command(self, packed: list[bytes], check_health: bool = True) -> None:
        self._sock.sendall(b"".join(packed))


@pytest.mark.parametrize("initial_bytes", [7, 64, 1 << 20])
def test_replies_split_across_receives_are_read_whole(initial_bytes: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ingest.wire.INITIAL_BYTES", initial_bytes)
    batch = [(b"1794330000000-%d" % i, [b"data", b"x" * (i * 37 % 3000)]) for i in range(200)]
    replies = b"$1\r\nm\r\n-ERR no such key\r\n" + xread_reply(batch) + b"*-1\r\n"
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    sender = threading.Thread(target=lambda: [theirs.sendall(replies[k:k + 1000])
                                              for k in range(0, len(replies), 1000)])
    sender.start()
    wire = Wire(_SocketConnection(ours))  # type: ignore[arg-type]
    assert wire.value() == b"m"
    with pytest.raises(Exception, match="no such key"):
        wire.value()
    replied = Entries.from_buffers(wire.xread())
    assert replied.payloads == [fields[1] for _, fields in batch]
    assert len(Entries.from_buffers(wire.xread())) == 0
    sender.join()
    theirs.close()
    import redis

    with pytest.raises(redis.ConnectionError):
        wire.value()
    ours.close()

