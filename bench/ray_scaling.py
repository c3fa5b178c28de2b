"""Ray scaling: throughput by number of Ray workers, beside plain asyncio and a process pool,
for the same agent's requests (examples/scaling.py), model-bound and CPU-bound, on the wall
clock (workers are other processes: model time does not reach them).

    python bench/ray_scaling.py            measure, replaying cassettes/bench_ray_scaling/
    python bench/ray_scaling.py --record   record that cassette from a live model
    python bench/ray_scaling.py --check    ask each request once, no cluster; fail if a recording is unused

model-bound  each task asks a replica and waits out the model's reported time
CPU-bound    each task is 300 ms of CPU work alone (what an agent does with an answer: parsing,
             running tests); with the model's seconds added, the waits would hide it
It prints tasks a second for each way and worker count, Ray's start-up and per-task overhead,
and ends with the summary line:
    ray_scaling: model-bound asyncio A tasks/s, Ray 4 workers B; CPU-bound asyncio C, Ray 2 workers D (E x)
Expected on 2 cores: B no better than A (waiting needs no processes), E near 2 (two cores).
"""
from __future__ import annotations

import sys
import time

import _recording  # bench/'s own: this script's folder is on the path
import labkit
from labkit.llm.chat import request_for
from labkit.llm.config import REPO_ROOT
from labkit.llm.replicas import Replica

sys.path[:0] = [str(REPO_ROOT / "examples"), str(REPO_ROOT / "examples" / "bugtracker")]
import intake  # noqa: E402  (found on the path above)
import scaling  # noqa: E402
import triage_costs as tc  # noqa: E402
import triage_load as tl  # noqa: E402

CASSETTE = "bench_ray_scaling"
KINDS = {"model-bound": 0, "CPU-bound": 300}  # ms of CPU work; CPU-bound asks no model
WORKERS = (1, 2, 4)


def measure(model_url: str, requests: list[dict]) -> dict:
    """Tasks a second for every way of running them, each kind of task."""
    import ray

    rates = {}
    for kind, cpu_ms in KINDS.items():
        url = None if cpu_ms else model_url
        rates[kind, "asyncio"] = len(requests) / scaling.with_asyncio(url, requests, cpu_ms)
        for workers in WORKERS:
            pool = scaling.process_pool(workers)
            rates[kind, f"process pool {workers}"] = (
                len(requests) / scaling.with_processes(pool, url, requests, cpu_ms))
            pool.shutdown()
            rates[kind, f"Ray {workers}"] = (
                len(requests) / scaling.with_ray(url, requests, workers, cpu_ms))
    noop = ray.remote(scaling.cpu_work)
    started = time.perf_counter()
    ray.get([noop.remote(0.0) for _ in range(200)])
    rates["overhead ms"] = (time.perf_counter() - started) / 200 * 1000
    return rates


def main() -> int:
    parser, _ = _recording.arguments(__doc__, CASSETTE)
    args = parser.parse_args()
    lab = _recording.open_cassette(args, CASSETTE)
    requests = [request_for(intake.REPORTS[bug], system=tc.SHORT.instructions, schema=tc.TICKET,
                            max_tokens=tl.MAX_TOKENS) for bug in tc.BUGS[:8]]
    try:
        if args.record or args.check:  # each request once: the measuring replays them many times
            with Replica("replica") as replica:
                scaling.with_asyncio(replica.url, requests)
            return _recording.exit_code(_recording.unused(lab))
        with Replica("replica") as replica:
            started = time.perf_counter()
            scaling.start_ray(num_cpus=2)
            ray_start = time.perf_counter() - started
            try:
                rates = measure(replica.url, requests)
            finally:
                scaling.stop_ray()
        print(f"{len(requests)} tasks each; tasks a second (wall clock), and x asyncio:")
        for kind in KINDS:
            base = rates[kind, "asyncio"]
            print(f"  {kind}: " + ", ".join(
                f"{how} {rates[kind, how]:.1f} ({rates[kind, how] / base:.2f} x)"
                for how in ["asyncio", *[f"{w} {n}" for w in ("process pool", "Ray")
                                         for n in WORKERS]]))
        print(f"Ray: started in {ray_start:.1f} s; {rates['overhead ms']:.1f} ms a no-op task")
        cpu = rates["CPU-bound", "Ray 2"] / rates["CPU-bound", "asyncio"]
        print(f"ray_scaling: model-bound asyncio {rates['model-bound', 'asyncio']:.1f} tasks/s, "
              f"Ray 4 workers {rates['model-bound', 'Ray 4']:.1f}; CPU-bound asyncio "
              f"{rates['CPU-bound', 'asyncio']:.1f}, Ray 2 workers "
              f"{rates['CPU-bound', 'Ray 2']:.1f} ({cpu:.2f} x)")
        return 0
    finally:
        lab.close()


if __name__ == "__main__":
    sys.exit(main())
