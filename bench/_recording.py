"""What every bench shares: its --record and --check modes, and its own cassette.

A bench replays its cassette instantly by default. `--record` asks a live model (the local one
unless LABKIT_BACKEND says otherwise) and writes the cassette afresh; `--check` replays once and
fails if the cassette holds recordings the run did not ask for (a bench's cassette is its run).
"""
from __future__ import annotations

import argparse
import os
import sys

import labkit


def arguments(doc: str, cassette: str):
    """The bench's parser, and its group of modes, for a bench to add its own arguments to."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--record", action="store_true", help=f"record cassettes/{cassette}/ afresh")
    mode.add_argument("--check", action="store_true", help="replay once, list unused recordings")
    return parser, mode


def open_cassette(args: argparse.Namespace, cassette: str):
    """Choose the backend the mode asks for, then open the bench's cassette."""
    if args.record:
        os.environ.setdefault("LABKIT_BACKEND", "local")
        os.environ["LABKIT_RECORD"] = "1"
    else:
        os.environ.update(LABKIT_BACKEND="replay", LABKIT_REPLAY_SPEED="0")
    return labkit.setup(cassette, version=labkit.__version__)


def unused(lab) -> list[str]:
    """The problem to report when the cassette holds recordings this run did not ask for."""
    left = lab.unplayed()
    return [f"{len(left)} recording(s) nothing asked for: {', '.join(left)}"] if left else []


def exit_code(problems: list[str]) -> int:
    """Name each problem (a missed goal, an unused recording) on stderr; 1 if there was one."""
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0
