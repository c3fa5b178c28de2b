"""Attribution: notebook 07's 24 planted failures (examples/oncall_failures.py) through every
attributor (labkit/observe/attribution.py), replayed.

    python bench/attribution.py            measure, replaying cassettes/bench_attribution/
    python bench/attribution.py --record   record that cassette from a live model
    python bench/attribution.py --check    replay once; fail if a recording is unused

It prints each method's agent and step accuracy per class of failure, one line per method, and
ends with the attributor's (the trace diff, then the rules):
    attribution: N failures, agent accuracy A, step accuracy S
Goal: beat Who&When's best method (Zhang et al., ICML 2025): agent 53.5 %, step 14.2 %. The
comparison is not like for like: these failures were planted one at a time, in short runs with
a good run of the same work to compare against; Who&When's are real failures of long runs,
with no such reference.
"""
from __future__ import annotations

import sys

import _recording  # bench/'s own: this script's folder is on the path
from labkit.llm.config import REPO_ROOT

sys.path[:0] = [str(REPO_ROOT / "examples")]
import oncall_attribution as oa  # noqa: E402  (found on the path above)

CASSETTE = "bench_attribution"
ATTRIBUTOR = "rules"
REFERENCE = (0.535, 0.142)


def main() -> int:
    parser, _ = _recording.arguments(__doc__, CASSETTE)
    args = parser.parse_args()
    lab = _recording.open_cassette(args, CASSETTE)
    try:
        _, attributed = oa.attribute_all()
        if args.record or args.check:
            return _recording.exit_code(_recording.unused(lab))
    finally:
        lab.close()
    scores = oa.scores(attributed)
    classes = sorted({a.planted.failure_class for a in attributed})
    print(f"{'method':<12}" + "".join(f"{c:>22}" for c in ["all", *classes]))
    for method in oa.METHODS:
        print(f"{method:<12}" + "".join(
            "{:>22}".format("agent {:.0%} step {:.0%}".format(*scores[method][c]))
            for c in ["all", *classes]))
    cascades = [a for a in attributed if a.planted.cascade]
    for method in oa.METHODS:
        agent, step = scores[method]["all"]
        print(f"attribution ({method}): {len(attributed)} failures, agent accuracy {agent:.1%}, "
              f"step accuracy {step:.1%}")
    hits = sum(a.blames[ATTRIBUTOR].agent == a.truth[0] and a.blames[ATTRIBUTOR].step == a.truth[1]
               for a in cascades)
    print(f"cascades: {len(cascades)} of {len(attributed)}; the attributor found the step of {hits}")
    agent, step = scores[ATTRIBUTOR]["all"]
    problems = []
    if agent <= REFERENCE[0] or step <= REFERENCE[1]:
        problems.append(f"Goal missed: agent {agent:.1%} > 53.5% and step {step:.1%} > 14.2%.")
    print(f"attribution: {len(attributed)} failures, agent accuracy {agent:.1%}, "
          f"step accuracy {step:.1%}")
    return _recording.exit_code(problems)


if __name__ == "__main__":
    raise SystemExit(main())
