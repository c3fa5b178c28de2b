"""An Agent is plain data: a name, a role, its instructions, its tools, its skills, its version.

Behaviour lives in functions that take an agent, as in openai/swarm: `agent.ask(...)` is
one model call with the agent's instructions as the system prompt, traced under its name.
The version is metadata for traces and the ledger (which agent did this?), never part of a
request, so changing it changes no answer and no recording.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .llm.chat import Reply, achat, chat
from .observe import trace


@dataclass(frozen=True)
class Agent:
    name: str
    role: str  # one clear purpose, in a few words
    instructions: str  # the system prompt
    tools: dict[str, Callable] = field(default_factory=dict, hash=False)
    skills: frozenset[str] = frozenset()  # what it can be given, for capability routing
    version: str = "1"  # bump it when the instructions or tools change

    def __post_init__(self):
        object.__setattr__(self, "skills", frozenset(self.skills))  # a set or list works too

    def ask(self, prompt, **options) -> Reply:
        """One model call as this agent; `options` go to labkit.chat (schema=, max_tokens=...)."""
        with trace.span(self.role, agent=self.name, agent_version=self.version):
            return chat(prompt, agent=self.name, agent_version=self.version,
                        system=self.instructions, **options)

    async def aask(self, prompt, **options) -> Reply:
        """ask() for asyncio."""
        with trace.span(self.role, agent=self.name, agent_version=self.version):
            return await achat(prompt, agent=self.name, agent_version=self.version,
                               system=self.instructions, **options)

    def use_tool(self, task: str, *, arguments: list[str] | None = None, **options):
        """Let the model pick one of the agent's tools and its argument, then run it.

        The choice is a JSON answer, {"tool": name, "argument": text}, which every backend
        can give (the local model has no native tool calls). When the argument must be one
        of known values, pass them as `arguments`: the schema then allows only those, where
        free text lets a model pass anything. Returns (tool name, result).
        """
        if not self.tools:
            raise ValueError(f"Agent {self.name!r} has no tools: give it tools={{name: function}}.")
        argument = {"enum": list(arguments)} if arguments else {"type": "string", "maxLength": 60}
        schema = {"title": "tool_choice", "type": "object", "required": ["tool", "argument"],
                  "properties": {"tool": {"enum": sorted(self.tools)}, "argument": argument}}
        choice = self.ask(f"Tools: {', '.join(sorted(self.tools))}.\nTask: {task}",
                          schema=schema, **options).data
        if choice["tool"] not in self.tools:  # a backend may not enforce the schema's enum
            raise ValueError(f"The model chose the tool {choice['tool']!r}, but {self.name} has "
                             f"only {', '.join(sorted(self.tools))}.")
        with trace.span(f"tool {choice['tool']}", agent=self.name, agent_version=self.version):
            return choice["tool"], self.tools[choice["tool"]](choice["argument"])
