"""Load balancing across replicas: the rules' choices, the split they make when one replica is
slow, the pool bound per replica, and clear errors for bad settings and lost replicas."""
import asyncio

import pytest

import labkit
from labkit.llm.replicas import Replica, ReplicaError
from labkit.patterns.balancing import Balancer, least_outstanding, round_robin
from test_replicas import canned

ASKER = labkit.Agent("asker", "asks", "Answer.")


def test_round_robin_takes_the_replicas_in_turn_whatever_they_do():
    assert [round_robin({"a": 9, "b": 0, "c": 0}, turn) for turn in range(4)] == ["a", "b", "c", "a"]


def test_least_outstanding_takes_the_fewest_in_flight_and_the_first_on_a_tie():
    assert least_outstanding({"a": 2, "b": 1, "c": 1}, 5) == "b"
    assert least_outstanding({"a": 0, "b": 0}, 1) == "a"


def split(rule, slots=None):
    """Requests arriving every 0.5 s at a fast replica and one three times slower."""
    async def main(balancer):
        async def one(i):
            await asyncio.sleep(i * 0.5)
            await balancer.aask(ASKER, "took 1.0")
        await asyncio.gather(*[one(i) for i in range(20)])

    with canned(Replica("fast")) as fast, canned(Replica("slow", slowdown=3)) as slow:
        balancer = Balancer([fast, slow], rule=rule, slots=slots)
        labkit.run(main(balancer))
        return balancer


def test_least_outstanding_sends_a_slow_replica_less_than_round_robin(unit_session):
    assert split(round_robin).sent == {"fast": 10, "slow": 10}
    lighter = split(least_outstanding).sent
    assert lighter["slow"] < 10 and lighter["fast"] + lighter["slow"] == 20


def test_slots_bound_what_each_replica_has_out_at_once(unit_session):
    unbounded = split(round_robin)
    assert unbounded.most_at_once["slow"] > 1  # 3 s answers, a request every second
    assert split(round_robin, slots=1).most_at_once == {"fast": 1, "slow": 1}


def test_a_balancer_refuses_bad_settings_with_the_fix(unit_session):
    with pytest.raises(ValueError, match="at least one started Replica"):
        Balancer([])
    with canned(Replica("a")) as first, canned(Replica("a")) as twin:
        with pytest.raises(ValueError, match="slots=0: a replica needs at least 1 slot"):
            Balancer([first], slots=0)
        with pytest.raises(ValueError, match="Replicas need different names"):
            Balancer([first, twin])
        wrong = Balancer([first], rule=lambda in_flight, turn: "b")
        with pytest.raises(ValueError, match="named 'b'; the replicas are a"):
            wrong.choose()


def test_an_unreachable_replica_is_named_when_the_balancer_is_made(unit_session):
    gone = Replica("gone")
    with pytest.raises(ReplicaError, match="'gone' at \\(never started\\) does not answer"):
        Balancer([gone])


def test_a_replica_lost_mid_run_is_named(unit_session):
    with canned(Replica("lost")) as replica:
        balancer = Balancer([replica])
        replica._server.shutdown()  # the server stops answering; its client does not know yet
        replica._server.server_close()
        with pytest.raises(ReplicaError, match="Replica 'lost' at .* stopped answering"):
            labkit.run(balancer.aask(ASKER, "took 1.0"))
