"""Everything that reaches, records or pays for a model, or holds the process's state.

config       settings from the environment, validated once
local_model  the small local model, behind llama.cpp's server on 127.0.0.1
cassettes    recorded calls: strict replay, scrubbed, with provenance and latency
clients      where a session's calls go: the backend's address and the openai clients
session      a notebook's session: settings, clients, cassette (labkit.setup)
override     a block of code whose calls go to another client or model
chat         chat() and achat(): one call, traced and recorded in the usage ledger
usage        usage records, prices, and the ledger
scripted     ScriptedModel: answers from a script, for testing agents in isolation
"""
