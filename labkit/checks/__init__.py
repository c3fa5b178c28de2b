"""Exercise checks, one module per notebook over a shared core.

Every check has the same signature, `check_<name>(learner_function, extra_cases=())`, runs
the learner's function on cases (behaviour, never source text), prints a line when all is
right, and raises CheckFailed with feedback a learner can act on otherwise. A notebook's
graded cells import them from here; the hidden tests call them again with extra cases.
"""
from ._core import CheckFailed
from .nb00_setup import check_cost_on, check_triage_validator
from .nb01_multi_agent_systems import (check_budget_award, check_pick_design, check_pull_all,
                                       check_severity_filter, check_stop_reason)
from .nb02_collaboration_patterns import (check_dedupe, check_gather_until, check_pick_aggregation,
                                          check_stage_validator, check_useful_tests)
from .nb03_error_handling_and_recovery import check_first_valid, check_is_retriable, check_resume
from .nb04_performance_and_cost import check_cache_key, check_cheapest_valid, check_per_item
from .nb05_scale_and_monitoring import check_admit, check_least_outstanding, check_token_bucket
from .nb06_security import (check_allowed, check_first_broken, check_redact_keys,
                            check_strip_invisible, check_wrap_untrusted)
from .nb07_debugging_and_observability import (check_first_bad_choice, check_outline,
                                               check_responder_cases)

__all__ = ["CheckFailed", "check_triage_validator", "check_cost_on", "check_severity_filter",
           "check_budget_award", "check_stop_reason", "check_dedupe", "check_stage_validator",
           "check_gather_until", "check_pick_design", "check_pick_aggregation", "check_pull_all",
           "check_useful_tests", "check_is_retriable", "check_first_valid", "check_resume",
           "check_cache_key", "check_cheapest_valid", "check_per_item", "check_token_bucket",
           "check_least_outstanding", "check_admit", "check_strip_invisible", "check_redact_keys",
           "check_wrap_untrusted", "check_allowed", "check_first_broken",
           "check_outline", "check_first_bad_choice", "check_responder_cases"]
