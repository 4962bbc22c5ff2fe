"""The partition routing of shared/contract.md: crc32 of the order id's UTF-8 bytes, mod P,
whatever the payload's spelling; the owned-partition flags."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.partitions import (
    parse_owned,
    partition_of,
    route,
    routes,
    routes_in_numpy,
    split_by_partition,
)


@given(order_id=st.text(min_size=1, max_size=40).filter(
    lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s)), partitions=st.integers(1, 64))
def test_every_spelling_of_one_order_routes_to_its_ids_partition(order_id: str,
                                                                  partitions: int) -> None:
    expected = zlib.crc32(order_id.encode()) % partitions
    assert partition_of(order_id, partitions) == expected
    body = {"order_id": order_id, "ts": 1, "amount": "1.00"}
    for payload in (json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
                    json.dumps(body).encode(),  # escapes, spaces
                    json.dumps({"ts": 1, **body}, indent=1).encode()):
        assert route(payload, partitions) == expected


@given(payload=st.binary(max_size=300), partitions=st.integers(1, 16))
def test_any_bytes_route_somewhere(payload: bytes, partitions: int) -> None:
    assert 0 <= route(payload, partitions) < partitions


def test_a_payload_naming_order_id_twice_goes_by_what_json_keeps() -> None:
    payload = b'{"order_id":"a","order_id":"b"}'
    assert route(payload, 7) == partition_of("b", 7)


@pytest.mark.parametrize(("text", "owned"), [("0,2,4", [0, 2, 4]), ("4,0", [0, 4]),
                                             ("0/2", [0, 2, 4]), ("1/2", [1, 3, 5]),
                                             ("5/6", [5])])
def test_owned_partitions(text: str, owned: list[int]) -> None:
    assert parse_owned(text, 6) == owned


@pytest.mark.parametrize("text", ["6", "0,x", "", "2/2", "a/b", "7/8"])
def test_owning_nothing_or_too_much_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_owned(text, 6)


_PIECES = st.sampled_from([b'"order_id"', b'"order_id":"', b':', b'"', b'\\', b'\n', b'{', b'}',
                           b'_', b'a', b'\xff', b'\xe8\xae\xa2', b'x' * 40, b' '])
_HOSTILE = st.one_of(
    st.binary(max_size=300),
    st.lists(_PIECES, max_size=16).map(b"".join),
    st.builds(lambda head, order_id, tail: head + b'"order_id":"' + order_id + b'"' + tail,
              st.binary(max_size=20), st.binary(max_size=70), st.binary(max_size=20)),
    st.text(max_size=50).map(lambda s: json.dumps({"order_id": s, "ts": 1}).encode()),
    st.text(max_size=50).map(lambda s: json.dumps({"order_id": s}, ensure_ascii=False,
                                                  separators=(",", ":")).encode("utf-8",
                                                                                "surrogatepass")))


@settings(deadline=None)  # a loaded machine's pause is no finding
@given(payloads=st.lists(_HOSTILE, max_size=20), partitions=st.integers(1, 16))
def test_the_batch_routing_agrees_with_the_reference_on_any_bytes(payloads: list[bytes],
                                                                    partitions: int) -> None:
    expected = [route(p, partitions) for p in payloads]
    assert routes(payloads, partitions).tolist() == expected  # compiled, where built
    assert routes_in_numpy(payloads, partitions).tolist() == expected  # without it


@settings(deadline=None)  # a loaded machine's pause is no finding
@given(payloads=st.lists(_HOSTILE, max_size=20), partitions=st.integers(1, 16))
def test_the_compiled_routing_is_the_references_or_defers_to_it(payloads: list[bytes],
                                                                partitions: int) -> None:
    compiled = pytest.importorskip("ingest._resp")
    said = np.frombuffer(compiled.routes(payloads, partitions), np.int64).tolist()
    for payload, partition in zip(payloads, said, strict=True):
        assert partition == -1 or partition == route(payload, partitions)
    plain = [json.dumps({"order_id": f"o-{i}", "ts": 1}, separators=(",", ":")).encode()
             for i in range(len(payloads))]
    assert -1 not in np.frombuffer(compiled.routes(plain, partitions), np.int64).tolist()


def test_each_partition_gets_its_payloads_in_their_order() -> None:
    payloads = [json.dumps({"order_id": f"o{i}"}).encode() for i in range(50)] + [b"x", b""]
    split = split_by_partition(payloads, 3)
    assert sorted(payloads.index(p) for mine in split for p in mine) == list(range(len(payloads)))
    for partition, mine in enumerate(split):
        assert list(mine) == [p for p in payloads if route(p, 3) == partition]
