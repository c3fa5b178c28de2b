"""Seeing what a run did: traces of spans, and pictures drawn from them.

trace    spans of steps, model calls and messages, with parents, agents and times
answers  a batch of answers: their spread, and whether they collapsed into one
viz      sequence diagrams, agent graphs and timelines, drawn with matplotlib
figures  figure settings that keep saved notebooks the same on every run
metrics  a load run's metrics per agent and per model, in Prometheus's format
dashboard  those metrics drawn, live while a run goes, once when headless
otel     a trace as OpenTelemetry spans (GenAI conventions): in memory, an OTLP file, a backend
decisions  one record per decision: who, inputs, options, choice, reason
resources  usage per agent (model time, tokens, CPU, memory, tasks); runaways stopped
attribution  which agent and step caused a failed run, four ways, and their scores
"""
