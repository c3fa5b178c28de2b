"""What a notebook calls to arrange or protect agents, one topic a module.

messaging      how agents talk: addressed messages, a pub/sub bus, a shared blackboard
routing        who does what: round-robin, least-loaded, by skill; contract-net awards
limits         bounds on loops between agents: rounds, tokens, seconds
collaboration  sequential, parallel and hierarchical runners
aggregate      merging findings: group, vote, verify, rank, score

Each is stateless: the model, the clock and the ledger a part needs are passed in.
"""
