"""What a notebook calls to arrange or protect agents, one topic a module.

messaging      how agents talk: addressed messages, a pub/sub bus, a shared blackboard
routing        who does what: round-robin, least-loaded, by skill; contract-net awards
limits         bounds on loops between agents: rounds, tokens, seconds
collaboration  sequential, parallel and hierarchical runners
aggregate      merging findings: group, vote, verify, rank, score
faults, recovery, checkpoint, escalation, health   what goes wrong, and getting over it (03)
cache          exact and similarity caches of answers (04)
throughput     requests per second, tokens per minute, backpressure (05)
balancing      which model replica takes the next request (05)
injection      untrusted input: sanitise, spotlight, heuristics, tool allow-lists (06)
leaks          what leaves an agent: secrets, personal data, redaction (06)
access         API keys as hashes, rotation, signed tokens, roles checked at every call (06)
audit          a hash-chained audit log and its verifier (06)
sandbox        run untrusted code isolated: bubblewrap, rlimits, cgroups, a wall clock (06, grading)

Each is stateless: the model, the clock and the ledger a part needs are passed in.
"""
