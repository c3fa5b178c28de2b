"""Horizontal scaling (examples/scaling.py): workers in other processes ask a replica and get
its answers; a local Ray cluster starts, runs tasks and an actor, and stops leaving no process."""
import sys
import time

import psutil
import pytest

from labkit.llm.config import REPO_ROOT
from labkit.llm.replicas import Replica
from test_replicas import canned

sys.path.insert(0, str(REPO_ROOT / "examples"))
import scaling  # noqa: E402  (found on the path above)

REQUESTS = [{"model": "m", "messages": [{"role": "user", "content": f"took 0.0{i}"}],
             "max_tokens": 5} for i in range(4)]


def descendants() -> list[str]:
    return sorted(p.name() for p in psutil.Process().children(recursive=True) if p.is_running())


def test_asyncio_and_a_process_pool_get_every_answer(unit_session):
    with canned(Replica("r")) as replica:
        assert scaling.with_asyncio(replica.url, REQUESTS) >= 0.0
        pool = scaling.process_pool(2)
        answers = list(pool.map(scaling.triage_on, [replica.url] * 4, REQUESTS))
        pool.shutdown()
        assert [a["answer"] for a in answers] == [f"answered took 0.0{i}" for i in range(4)]
        assert len({a["pid"] for a in answers}) <= 2
        assert replica.requests == 8


def test_a_local_ray_cluster_runs_tasks_and_an_actor_and_stops_cleanly(unit_session):
    ray = pytest.importorskip("ray")
    before = descendants()
    with canned(Replica("r")) as replica:
        scaling.start_ray(num_cpus=2)
        try:
            assert ray.cluster_resources()["CPU"] == 2
            assert scaling.with_ray(replica.url, REQUESTS, workers=2) >= 0.0
            worker = ray.remote(scaling.TriageWorker).remote(replica.url)
            answer = ray.get(worker.triage.remote(REQUESTS[0]))
            assert answer["answer"] == "answered took 0.00"
            assert ray.get(worker.count.remote()) == 1
            assert replica.requests == 5
        finally:
            ray.shutdown()
    deadline = time.monotonic() + 20  # Ray's processes take a moment to exit
    while descendants() != before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert descendants() == before, "Ray left processes running"

