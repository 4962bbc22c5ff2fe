"""Attack: the combiner's own checkpoint (DATA/combiner/checkpoint.json) tampered while it is
down. Its totals must stay exact (equal to a full recomputation), or it must refuse the
checkpoint, read everything and say so; never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis

from common.settings import Settings
from ingest.combine_checkpoint import checkpoint_path
from tests.integration.test_partitions import assert_partitioned_night_is_exact, gmv, published


def _add(path: tuple[Any, ...], amount: int) -> Callable[[dict], None]:
    def change(saved: dict) -> None:
        target = saved
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] += amount
    return change


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict], None]:
    def change(saved: dict) -> None:
        target = saved
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _first_second_plus_one(saved: dict) -> None:
    second = next(iter(saved["state"]["seconds"]))
    saved["state"]["seconds"][second][0] += 1


TAMPERS: dict[str, Callable[[dict], None]] = {
    "state_gmv_cents_plus_1": _add(("state", "gmv_cents"), 1),
    "state_orders_plus_1": _add(("state", "orders"), 1),
    "state_rejected_plus_1": _add(("state", "rejected"), 1),
    "mark_rejected_plus_1": _add(("partitions", 0, "rejected"), 1),
    "a_second_plus_one_order": _first_second_plus_one,
    "mark_applied_as_text": lambda s: _set(("partitions", 0, "applied"),
                                           str(s["partitions"][0]["applied"]))(s),
    "mark_applied_null": _set(("partitions", 0, "applied"), None),
    "mark_orders_null": _set(("partitions", 0, "orders"), None),
    "state_gmv_cents_as_text": lambda s: _set(("state", "gmv_cents"),
                                              str(s["state"]["gmv_cents"]))(s),
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_a_tampered_combiner_checkpoint_is_refused_or_harmless(
        redis_client: redis.Redis, settings: Settings, tamper: str) -> None:
    settings = published(redis_client, settings)
    gmv(settings, "ingest", "--until-idle")
    path = checkpoint_path(settings.data_dir)
    saved = json.loads(path.read_text())
    TAMPERS[tamper](saved)
    path.write_text(json.dumps(saved))
    again = gmv(settings, "combine", "--until-idle", check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert_partitioned_night_is_exact(redis_client, settings)
