"""Horizontal scaling for notebook 05 and bench/ray_scaling.py: one agent's work, run by
workers in other processes (a process pool, Ray tasks, a Ray actor), against plain asyncio.

A worker gets a request the notebook built (labkit.llm.chat.request_for, the triager's), asks
a model replica for it over HTTP (llm/replicas.py: in replay it answers from the cassette at
once and reports the recorded latency), and waits until the model's reported time has passed.
Then it may do CPU-bound work (`cpu_ms`, made the same PBKDF2 rounds for every worker): a
stand-in for what a real agent does after its answer, such as parsing a large file or running
a test suite.
Workers are other processes: model time does not reach them, so everything here is wall time.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import json
import multiprocessing
import os
import time
import urllib.request

import httpx2

LATENCY_HEADER = "x-labkit-latency-s"  # what llm/cassettes.py names it; workers import no labkit
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1, no proxy


def cpu_work(rounds: int) -> None:
    """Pure CPU work: `rounds` of PBKDF2. The same rounds in every process: see cpu_rounds."""
    if rounds > 0:
        hashlib.pbkdf2_hmac("sha256", b"agent", b"salt", rounds)


@functools.cache  # once per process: see cpu_rounds
def _rounds_per_ms() -> float:
    started = time.perf_counter()
    hashlib.pbkdf2_hmac("sha256", b"agent", b"salt", 20_000)
    return 20_000 / ((time.perf_counter() - started) * 1000)


def cpu_rounds(ms: float) -> int:
    """The rounds that take about `ms` here, measured once in this (the calling) process, so
    every worker gets the same work: calibrated in each worker, under the others' load, a
    busy worker would measure itself slow and do less."""
    return int(ms * _rounds_per_ms())


def triage_on(url: str | None, request: dict, cpu: int = 0) -> dict:
    """One task, as a worker does it: ask the replica at `url`, take the model's time, work.
    With url=None the task is its CPU work alone (what the agent does with an answer)."""
    if url is None:
        cpu_work(cpu)
        return {"answer": None, "pid": os.getpid()}
    started = time.perf_counter()
    post = urllib.request.Request(f"{url}/v1/chat/completions", data=json.dumps(request).encode(),
                                  headers={"content-type": "application/json"})
    with _direct.open(post, timeout=120) as reply:
        answer, latency = json.load(reply), float(reply.headers.get(LATENCY_HEADER, 0))
    # A replayed answer comes at once; live, the time has already passed: wait what is left.
    time.sleep(max(0.0, latency - (time.perf_counter() - started)))
    cpu_work(cpu)
    return {"answer": answer["choices"][0]["message"]["content"], "pid": os.getpid()}


async def atriage_on(client: httpx2.AsyncClient, url: str | None, request: dict,
                     cpu: int) -> dict:
    """triage_on for asyncio: the wait overlaps with other tasks; the CPU work does not."""
    if url is None:
        return triage_on(None, request, cpu)
    started = time.perf_counter()
    reply = await client.post(f"{url}/v1/chat/completions", json=request)
    latency = float(reply.headers.get(LATENCY_HEADER, 0))
    await asyncio.sleep(max(0.0, latency - (time.perf_counter() - started)))
    cpu_work(cpu)
    return {"answer": reply.json()["choices"][0]["message"]["content"], "pid": os.getpid()}


def with_asyncio(url: str, requests: list[dict], cpu_ms: float = 0.0) -> float:
    """Seconds for every task at once in one process, one event loop (a thread of its own:
    a plain loop, on the wall clock, not the notebook's model-time loop)."""
    async def main() -> None:
        async with httpx2.AsyncClient(timeout=120, trust_env=False) as client:
            await asyncio.gather(*[atriage_on(client, url, r, cpu) for r in requests])

    cpu = cpu_rounds(cpu_ms)

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(_timed, lambda: asyncio.run(main())).result()


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def process_pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    """A pool of `workers` processes, started now (spawned: forking a process that runs
    servers in threads can copy a held lock), so their start-up is not timed with the work."""
    spawn = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=spawn)
    list(pool.map(cpu_work, [0] * workers))
    return pool


def with_processes(pool, url: str, requests: list[dict], cpu_ms: float = 0.0) -> float:
    return _timed(lambda: list(pool.map(triage_on, [url] * len(requests), requests,
                                        [cpu_rounds(cpu_ms)] * len(requests))))


def start_ray(num_cpus: int = 2) -> None:
    """A local Ray cluster on this machine: no dashboard, no usage statistics sent. On a real
    cluster, the one change is ray.init(address="ray://<head>:10001") (and
    replicas at an address the other machines reach, not 127.0.0.1)."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # nothing tries to reach the internet
    import ray  # after the settings: Ray reads them when it is imported

    here = os.path.dirname(os.path.abspath(__file__))  # workers import this module
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
             configure_logging=False)


def stop_ray() -> None:
    import ray

    ray.shutdown()


def with_ray(url: str, requests: list[dict], workers: int, cpu_ms: float = 0.0) -> float:
    """Seconds for every task as a Ray task, at most `workers` at once (each asks for
    num_cpus/workers of the cluster's CPUs), once each slot's worker process has started."""
    import ray

    cpus = ray.cluster_resources()["CPU"] / workers
    task = ray.remote(num_cpus=cpus)(triage_on)
    # Untimed: a new shape of task gets new worker processes, which start and import this
    # module; 200 ms of work each keeps one slot busy, so every slot gets its own worker.
    ray.get([task.remote(None, {}, cpu_rounds(200)) for _ in range(workers)])
    cpu = cpu_rounds(cpu_ms)
    return _timed(lambda: ray.get([task.remote(url, r, cpu) for r in requests]))


class TriageWorker:
    """A Ray actor's class: a worker that lives on between tasks, with state of its own (here,
    a count of what it did): ray.remote(TriageWorker).remote(url)."""

    def __init__(self, url: str) -> None:
        self.url, self.done = url, 0

    def triage(self, request: dict, cpu: int = 0) -> dict:
        self.done += 1
        return triage_on(self.url, request, cpu)

    def count(self) -> int:
        return self.done
