"""Seeing what a run did: traces of spans, and pictures drawn from them.

trace    spans of steps, model calls and messages, with parents, agents and times
answers  a batch of answers: their spread, and whether they collapsed into one
viz      sequence diagrams, agent graphs and timelines, drawn with matplotlib
figures  figure settings that keep saved notebooks the same on every run
metrics  a load run's metrics per agent and per model, in Prometheus's format
dashboard  those metrics drawn, live while a run goes, once when headless
"""
