"""The aggregation strategies: grouping duplicates, majority vote, verification, ranking, score."""
from labkit.patterns import aggregate
from labkit.patterns.aggregate import Finding


def finding(file, line, category, agent, problem="p", end=None):
    return Finding(file, line, category, problem, agent, end)


SQL = finding("store.py", 68, "security", "security", "SQL from an f-string")
SQL_AGAIN = finding("store.py", 69, "security", "style", "query built by hand")
SQL_THIRD = finding("store.py", 66, "security", "tests", "injection")
LOOP = finding("report.py", 31, "performance", "style")
NOISE = finding("store.py", 10, "style", "tests")
FINDINGS = [SQL, LOOP, SQL_AGAIN, NOISE, SQL_THIRD]


def test_group_counts_each_issue_once_and_remembers_who_reported_it():
    issues = aggregate.group(FINDINGS)

    assert [i.first for i in issues] == [SQL, LOOP, NOISE]
    assert issues[0].agents == ["security", "style", "tests"]
    assert issues[0].votes == 3


def test_group_keeps_other_categories_files_and_far_lines_apart():
    far = finding("store.py", 71, "security", "style")       # 3 lines from the first report
    other_file = finding("search.py", 68, "security", "style")
    other_category = finding("store.py", 68, "style", "style")

    assert len(aggregate.group([SQL, far, other_file, other_category])) == 4


def test_one_agent_reporting_twice_is_one_vote():
    twice = [SQL, finding("store.py", 68, "security", "security", "again")]

    assert aggregate.group(twice)[0].votes == 1
    assert aggregate.majority(twice, voters=3) == []


def test_majority_keeps_only_what_more_than_half_the_voters_reported():
    kept = aggregate.majority(FINDINGS, voters=3)

    assert [i.first for i in kept] == [SQL]
    assert len(aggregate.majority(FINDINGS, voters=4)) == 1   # 3 of 4 is still a majority
    assert aggregate.majority([SQL, SQL_AGAIN], voters=4) == []  # 2 of 4 is not


def test_verified_keeps_confirmed_issues_led_by_their_best_report():
    def verifier(f):
        return {"query built by hand": 0.9, "SQL from an f-string": 0.5}.get(f.problem, 0.0)

    kept = aggregate.verified(FINDINGS, verifier)

    assert len(kept) == 1
    assert kept[0].first == SQL_AGAIN            # the best-scored report leads
    assert kept[0].votes == 3                    # the others still count as votes


def test_verified_ties_keep_the_order_findings_came_in():
    kept = aggregate.verified([SQL, SQL_AGAIN], lambda f: 1.0)

    assert kept[0].first == SQL


def test_rank_puts_severe_categories_then_agreement_first():
    lone_security = finding("a.py", 5, "security", "x")
    issues = aggregate.group([NOISE, LOOP, lone_security, SQL, SQL_AGAIN])

    ranked = aggregate.rank(issues)

    assert [i.first for i in ranked] == [SQL, lone_security, LOOP, NOISE]


KNOWN = [{"id": "sql", "file": "store.py", "line": 68, "category": "security"},
         {"id": "loop", "file": "report.py", "line": 31, "category": "performance"},
         {"id": "untested", "file": "search.py", "line": 1, "category": "tests"}]


def test_score_counts_precision_and_recall_against_known_flaws():
    issues = aggregate.group(FINDINGS + [finding("search.py", 40, "tests", "tests")])

    result = aggregate.score(issues, KNOWN)

    assert result["found"] == ["sql", "loop", "untested"]   # line 1: the whole file
    assert result["real"] == 3 and result["issues"] == 4
    assert result["precision"] == 0.75 and result["recall"] == 1.0
    assert result["f1"] == 2 * 0.75 / 1.75


def test_each_flaw_is_found_once_and_each_issue_finds_one_flaw():
    every_function = [finding("search.py", line, "tests", "tests", end=line + 5) for line in (14, 29, 40)]
    two_loops = {"id": "loop-2", "file": "report.py", "line": 33, "category": "performance"}
    one_report = aggregate.group([finding("report.py", 26, "performance", "style", end=35)])

    result = aggregate.score(aggregate.group(every_function), KNOWN)
    assignment = aggregate.assign(one_report, KNOWN + [two_loops])

    assert result["found"] == ["untested"] and result["real"] == 1
    assert result["precision"] == 1 / 3                    # two of the three reports found nothing new
    assert assignment["loop"] == one_report[0] and assignment["loop-2"] is None


def test_a_finding_about_a_function_matches_a_flaw_anywhere_inside_it():
    function = finding("report.py", 26, "performance", "style", end=35)   # find_duplicates
    too_short = finding("report.py", 26, "performance", "style")

    assert aggregate.score(aggregate.group([function]), KNOWN)["found"] == ["loop"]
    assert aggregate.score(aggregate.group([too_short]), KNOWN)["found"] == []


def test_score_of_nothing_is_zero_not_an_error():
    assert aggregate.score([], KNOWN) == {"issues": 0, "real": 0, "precision": 0.0,
                                          "recall": 0.0, "f1": 0.0, "found": []}
