"""The partitioned war room on a real Redis Cluster: three redis-server nodes on loopback, six
partitions, three worker processes and the combiner; a worker killed and restarted, a node
restarted (AOF), a partition moved to another worker, and every total exact to the cent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from common.redis_server import EmbeddedCluster, connect
from common.settings import Settings, load_settings
from ingest.history import read_summary, summary_path
from ingest.worker import drained
from rehearsal.replay import replay
from tests.checks import (
    assert_history_matches_truth,
    assert_matches_truth_of_streams,
    dead_letters,
)
from tests.conftest import wait_for

CLI = [sys.executable, "-m", "gmv.cli"]
PARTITIONS = 6


def truth_of(recording: Path) -> dict:
    return dict(json.loads(recording.with_name(
        recording.name.split(".")[0] + ".labels.json").read_text())["truth"])


class Processes:
    def __init__(self, settings: Settings, logs: Path) -> None:
        self.settings, self.logs = settings, logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, *args: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as out:
            self.running[name] = subprocess.Popen(
                [*CLI, *args, "--redis", str(self.settings.redis_url),
                 "--data", str(self.settings.data_dir)], stderr=out,
                env={**os.environ, "GMV_PARTITIONS": str(PARTITIONS),
                     "GMV_CHECKPOINT_EVENTS": "20000", "GMV_INGEST_BATCH_SIZE": "10000"})

    def stop(self, name: str, sig: int = signal.SIGTERM) -> int:
        process = self.running.pop(name)
        process.send_signal(sig)
        return process.wait(timeout=120)

    def stop_all(self) -> None:
        for name in list(self.running):
            assert self.stop(name) == 0, (self.logs / f"{name}.log").read_text()[-3000:]


def partition_orders(settings: Settings, partition: int) -> int:
    path = summary_path(settings.for_partition(partition).data_dir)
    return json.loads(path.read_text())["orders"] if path.exists() else 0


def combined_orders(settings: Settings) -> int:
    path = summary_path(settings.data_dir)
    return json.loads(path.read_text())["orders"] if path.exists() else 0


@pytest.mark.slow
def test_a_million_events_on_a_three_node_cluster_stay_exact_through_faults(
        million: Path, tmp_path: Path) -> None:
    truth = truth_of(million)
    with EmbeddedCluster(tmp_path / "cluster", nodes=3) as cluster:
        settings = load_settings(env={}, redis_url=cluster.url, data_dir=tmp_path / "data",
                                 partitions=PARTITIONS)
        client = connect(cluster.url)
        assert replay(million, client, settings, speed=None, retime=False).published >= 1_000_000
        # What the streams hold (a re-sent batch included) before any worker trims them.
        in_streams = sum(client.xlen(settings.partition_stream(p)) for p in range(PARTITIONS))
        nodes = {client.get_node_from_key(settings.partition_stream(p)).port  # type: ignore[attr-defined]
                 for p in range(PARTITIONS)}
        assert len(nodes) == 3, "the partitions are spread over every node"

        workers = Processes(settings, tmp_path / "logs")
        for i in range(3):
            workers.start(f"worker-{i}", "ingest", "--worker", f"{i}/3")
        workers.start("combiner", "combine")

        # Worker 1 (partitions 1 and 4) killed once it has committed, then started again.
        wait_for(lambda: partition_orders(settings, 1) > 0, 120, "worker 1 committed nothing")
        assert workers.stop("worker-1", signal.SIGKILL) == -signal.SIGKILL
        workers.start("worker-1", "ingest", "--worker", "1/3")

        # One node restarted (its AOF reloaded) while the workers are at it.
        wait_for(lambda: combined_orders(settings) >= truth["accepted"] // 3, 300,
                 "the war room never reached a third of the night")
        cluster.restart_node(1)

        # Partition 5 moves from worker 2 to worker 0's successor between two runs.
        assert workers.stop("worker-0") == 0
        assert workers.stop("worker-2") == 0
        workers.start("worker-a", "ingest", "--partitions", "0,3,5")
        workers.start("worker-b", "ingest", "--partitions", "2")
        for name in ("worker-a", "worker-b"):  # up, and stopping cleanly on SIGTERM from here
            wait_for(lambda name=name: "event=partitions_started" in
                     (tmp_path / "logs" / f"{name}.log").read_text(), 120, f"{name} never started")

        wait_for(lambda: drained(client, settings), 300, "the cluster was never drained")
        workers.stop_all()

        summary = read_summary(settings.data_dir)
        assert_matches_truth_of_streams(summary, truth, in_streams)
        assert_history_matches_truth(settings.data_dir, truth)
        letters = sum(len(dead_letters(client, f"{settings.partition_stream(p)}:dead"))
                      for p in range(PARTITIONS))
        assert letters == summary["rejected"]
