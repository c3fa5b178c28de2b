"""A scripted model for testing agents in isolation: no server, no HTTP, no cassette."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Callable

from openai.types.chat import ChatCompletion


class ScriptedModel:
    """Stands in for an OpenAI client. Answers come from a list, in order, or from a function
    of the request's messages. Every request is kept in `.requests` for assertions.

    Token counts are words, a rough stand-in that keeps usage sums meaningful.
    """

    def __init__(self, answers: list[str] | Callable[[list[dict]], str], model: str = "scripted"):
        self.answers = answers if callable(answers) else list(answers)
        self.model = model
        self.requests: list[dict] = []
        completions = SimpleNamespace(create=self.create,
                                      with_raw_response=SimpleNamespace(create=self._create_raw))
        self.chat = SimpleNamespace(completions=completions)

    def create(self, **request) -> ChatCompletion:
        self.requests.append(request)
        messages = request.get("messages", [])
        if callable(self.answers):
            answer = self.answers(messages)
        else:
            if len(self.requests) > len(self.answers):
                raise AssertionError(
                    f"ScriptedModel has {len(self.answers)} answers but got call "
                    f"{len(self.requests)}: give it more answers, or a function."
                )
            answer = self.answers[len(self.requests) - 1]
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in messages)
        answer_words = len(answer.split())
        return ChatCompletion.model_validate({
            "id": f"scripted-{len(self.requests)}", "object": "chat.completion", "created": 0,
            "model": self.model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer}}],
            "usage": {"prompt_tokens": prompt_words, "completion_tokens": answer_words,
                      "total_tokens": prompt_words + answer_words},
        })

    def _create_raw(self, **request) -> SimpleNamespace:
        # The shape of the SDK's raw response that labkit.llm reads: headers and parse().
        completion = self.create(**request)
        return SimpleNamespace(headers={}, parse=lambda: completion)
