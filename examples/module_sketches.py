"""The module's two resilience sketches (MODULE.md, section 8.3), made to run as written, on
the triager of examples/intake.py. Notebook 03 runs them under faults to show their gaps, and
tests/test_module_sketches.py pins each gap down. Do not copy them: labkit.patterns.recovery is
what they become once the gaps are closed.

The one change from the pseudocode: `time.sleep` is `await asyncio.sleep`, so a wait is model
time (on a replay it is counted, not waited for).
"""
from __future__ import annotations

import asyncio

import openai

import intake


class RetriableError(Exception):
    pass


class FatalError(Exception):
    pass


async def execute(task: str) -> str:
    """Ask the triager about report `task`; the SDK's errors become the sketches' two kinds.
    Any other error (a body cut off raises JSONDecodeError) is neither, as the sketches allow."""
    try:
        reply = await intake.triager.aask(intake.prompt("triage", intake.REPORTS[task]),
                                          schema=intake.SCHEMAS["triage"], max_tokens=30)
    except (openai.RateLimitError, openai.APIConnectionError, openai.InternalServerError) as error:
        raise RetriableError(str(error)) from error
    except openai.APIStatusError as error:
        raise FatalError(str(error)) from error
    return reply.text


def validate(result: str, task: str) -> bool:
    try:
        intake.check("triage", result, intake.REPORTS[task])
    except intake.Invalid:
        return False
    return True


errors: list[str] = []  # what log_error kept


def log_error(error: Exception) -> None:
    errors.append(f"{type(error).__name__}: {error}"[:120])


def fallback_strategy(task: str) -> str:
    return "fallback"


def escalate_to_human(task) -> str:
    return f"escalated: {task}"


async def retry_with_backoff(task: str, max_retries: int = 3) -> str:
    for attempt in range(max_retries):
        try:
            return await execute(task)
        except RetriableError:
            await asyncio.sleep(2 ** attempt)
    return fallback_strategy(task)


# The first sketch, line for line ----------------------------------------------------------

async def resilient_agent_execution(task: str) -> str:
    try:
        result = await execute(task)
        if validate(result, task):
            return result
        else:
            return fallback_strategy(task)
    except Exception as e:
        log_error(e)
        if isinstance(e, RetriableError):  # retriable(e)
            return await retry_with_backoff(task)
        else:
            return escalate_to_human(task)


# The second sketch, line for line ---------------------------------------------------------

class ResilientAgent:
    async def execute(self, task: str) -> str:
        return await execute(task)

    def validate(self, result: str) -> bool:
        return validate(result, self.task)

    def escalate(self, error: Exception) -> str:
        return escalate_to_human(error)

    def fallback(self, task: str) -> str:
        return fallback_strategy(task)

    async def execute_with_retry(self, task: str, max_retries: int = 3) -> str:
        self.task = task
        for attempt in range(max_retries):
            try:
                result = await self.execute(task)
                if self.validate(result):
                    return result
            except RetriableError:
                await asyncio.sleep(2 ** attempt)  # Exponential backoff
            except FatalError as e:
                return self.escalate(e)
        return self.fallback(task)
