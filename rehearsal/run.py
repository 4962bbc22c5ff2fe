"""Running a simulated night: into a file or onto the stream, with its stock and labels files."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import redis

from common.atomic import atomic_path
from common.logs import Progress, log_event
from common.prefetch import prefetched
from common.settings import Settings
from ingest.contract import format_cents
from rehearsal.pace import Pacer, publish_paced
from rehearsal.publish import inventory_publisher, publisher_for
from rehearsal.recordings import is_parquet, sidecar, write_jsonl, write_parquet
from rehearsal.simulate import Batch, NightPlan, NightSimulator

log = logging.getLogger("gmv.simulate")


def labels_document(sim: NightSimulator, command: str, complete: bool) -> dict[str, object]:
    plan, truth = sim.plan, sim.truth
    document: dict[str, object] = {
        "command": command,
        "plan": {"seed": plan.seed, "peak_ops": plan.peak_ops,
                 "festival_day": plan.festival_day.isoformat(), "start_s": plan.start_s,
                 "duration_s": plan.duration_s},
        "incidents": sim.labels(),
    }
    if complete:
        document["truth"] = {
            "sent": truth.sent, "accepted": truth.accepted, "rejected": truth.rejected,
            "duplicates": truth.duplicates, "gmv": format_cents(truth.gmv_cents),
            "by_device": {d: {"gmv": format_cents(g), "orders": n}
                          for d, (g, n) in truth.by_device.items()},
        }
    return document


def write_labels(path: Path, document: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _counted(batches: Iterator[Batch], progress: Progress) -> Iterator[list[bytes]]:
    for batch in batches:
        progress.advance(len(batch.payloads))
        yield batch.payloads


def simulate_to_file(plan: NightPlan, out: Path, command: str) -> NightSimulator:
    """The night as a recording at `out`, plus `<name>.inventory.jsonl` and `<name>.labels.json`."""
    sim = NightSimulator(plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    log_event(log, "simulate_started", out=out, seed=plan.seed, peak_ops=plan.peak_ops,
              incidents=len(plan.incidents))
    progress = Progress(log, "written")
    write_jsonl(sidecar(out, "inventory.jsonl"), [sim.inventory()])
    batches = _counted(prefetched(sim.batches()), progress)
    if is_parquet(out):
        _, skipped = write_parquet(out, batches)
        # A Parquet row cannot hold a payload that is not an order: the file's truth has none.
        sim.truth.sent -= skipped
        sim.truth.rejected -= skipped
        if skipped:
            log_event(log, "parquet_skipped_malformed", count=skipped)
    else:
        write_jsonl(out, batches)
    write_labels(sidecar(out, "labels.json"), labels_document(sim, command, complete=True))
    log_event(log, "simulate_finished", out=out, sent=sim.truth.sent,
              seconds=progress.elapsed_s, rate_per_s=progress.rate)
    return sim


def simulate_to_stream(plan: NightPlan, client: redis.Redis, settings: Settings,
                       speed: float | None, labels_path: Path, command: str,
                       published: Callable[[Batch], None] | None = None,
                       sent_to_ms: Callable[[int], None] | None = None) -> NightSimulator:
    """Publish the night (stock first), paced by arrival time at `speed` (None: as fast as
    possible); `published` is told of each batch once Redis holds it, `sent_to_ms` of each
    slice of one (publish_paced). A night continued
    (`plan.resume_s`) declares no stock: its start did."""
    sim = NightSimulator(plan)
    write_labels(labels_path, labels_document(sim, command, complete=False))
    if plan.resume_s is None:
        inventory_publisher(client, settings).publish(sim.inventory())
    publisher = publisher_for(client, settings)
    pacer = Pacer(speed) if speed else None
    progress = Progress(log, "published")
    log_event(log, "simulate_started", stream=settings.orders_stream, seed=plan.seed,
              peak_ops=plan.peak_ops, speed=speed or "max", labels=labels_path)
    for batch in prefetched(sim.batches()):
        publish_paced(publisher, batch.payloads, batch.arrival_ms, pacer, sent_to_ms=sent_to_ms)
        progress.advance(len(batch.payloads))
        if published is not None:
            published(batch)
    write_labels(labels_path, labels_document(sim, command, complete=True))
    log_event(log, "simulate_finished", published=publisher.published,
              seconds=progress.elapsed_s, rate_per_s=progress.rate)
    return sim
