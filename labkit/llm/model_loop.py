"""An asyncio event loop that runs on model time, and the notebook cells that run on it.

ModelTimeLoop is asyncio's own selector loop with two changes: its time() is a ModelClock,
and when the clock is virtual and nothing can run (no callback is ready, no socket but the
loop's own wake-up pipe is watched, no work is out in a thread), it jumps the clock to the
next timer instead of sleeping.
So asyncio.sleep, asyncio.wait(timeout=...), asyncio.timeout, semaphores and queues all keep
model time, in any code, with no wall-clock wait.

A notebook's top-level `await` runs on the kernel's own loop, which cannot be swapped. IPython
lets a notebook choose the runner for cells that await (`%autoawait`, its `loop_runner`):
labkit.setup makes it `run_cell`, which runs each such cell on the session's ModelTimeLoop, in
a thread of its own, and waits for it. Cells without `await` run as they always do.

    labkit.run(main())     # in a script or a test: like asyncio.run, on model time
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import ctypes
import selectors
import threading
import time
from typing import Any, Callable, Coroutine

from .clock import ModelClock, session_clock


class _JumpingSelector(selectors.DefaultSelector):
    """Waits for real only for real work; on a virtual clock, an idle wait is a jump."""

    def __init__(self, clock: ModelClock) -> None:
        super().__init__()
        self.clock = clock
        self.threads_busy = 0  # jobs the loop handed to threads (run_in_executor) not back yet
        self.may_jump: Callable[[], bool] = lambda: True

    def select(self, timeout: float | None = None):
        if timeout is None or timeout <= 0 or not self.clock.virtual or not self.may_jump():
            return super().select(timeout)
        ready = super().select(0)
        if ready:
            return ready
        if self.threads_busy:  # work in a thread takes no model time: wait for it
            return super().select(timeout)
        if len(self.get_map()) > 1:  # real I/O is watched: it takes its real time, counted
            started = time.monotonic()
            ready = super().select(timeout)
            self.clock.advance_if_virtual(time.monotonic() - started)
            return ready
        if self.clock.advance_if_virtual(timeout):  # only timers are left: the next is due now
            return []
        return super().select(timeout)  # the clock has just turned real


class ModelTimeLoop(asyncio.SelectorEventLoop):
    """asyncio's loop, on a ModelClock: time() is model time."""

    def __init__(self, clock: ModelClock) -> None:
        self.model_clock = clock
        self._jumping = _JumpingSelector(clock)
        super().__init__(self._jumping)

    def time(self) -> float:
        return self.model_clock.now()

    def jump_only_while(self, condition: Callable[[], bool]) -> None:
        """Jump the clock only while `condition()` holds (a notebook: while a cell runs)."""
        self._jumping.may_jump = condition

    def run_in_executor(self, executor, func, *args):
        """A job in a thread takes real time: no jump until it is back (asyncio.to_thread too;
        not a concurrent future wrapped by hand, which the loop cannot see)."""
        future = super().run_in_executor(executor, func, *args)
        self._jumping.threads_busy += 1
        future.add_done_callback(self._thread_done)
        return future

    def _thread_done(self, _future) -> None:
        self._jumping.threads_busy -= 1


def run(coroutine: Coroutine, *, clock: ModelClock = session_clock) -> Any:
    """Run a coroutine to its end on a new ModelTimeLoop, as asyncio.run does on a plain loop.

    clock: the session's by default, so model time runs on from where the notebook is.
    """
    with asyncio.Runner(loop_factory=lambda: ModelTimeLoop(clock)) as runner:
        return runner.run(coroutine)


class CellRunner:
    """Runs notebook cells that await on one ModelTimeLoop, kept in a thread for the session.

    One loop for the whole notebook: a queue or a bus made in one cell still works in the next.
    Each cell runs in a copy of the caller's context, so an open trace or override reaches it.
    Model time passes only while a cell runs: a task left running between cells waits.
    """

    def __init__(self, clock: ModelClock) -> None:
        self.clock = clock
        self.cells_running = 0
        self._start_loop()

    def _start_loop(self) -> None:
        self.loop = ModelTimeLoop(self.clock)
        self.loop.jump_only_while(lambda: self.cells_running > 0)
        self._thread = threading.Thread(target=self.loop.run_forever, name="labkit-model-time",
                                        daemon=True)
        self._thread.start()

    def __call__(self, coroutine: Coroutine) -> Any:
        if not self._thread.is_alive():  # a cell killed it (os._exit aside, nothing should)
            self._start_loop()
        context = contextvars.copy_context()
        done: concurrent.futures.Future = concurrent.futures.Future()
        task: list[asyncio.Task] = []

        def start() -> None:
            self.cells_running += 1
            task.append(self.loop.create_task(_outcome(coroutine), context=context))
            task[0].add_done_callback(lambda finished: _settle(done, finished, self))

        self.loop.call_soon_threadsafe(start)
        try:
            finished, value = done.result()
        except KeyboardInterrupt:  # the kernel was interrupted: stop the cell, then say so
            self._stop(task, done)
            raise
        if not finished:
            raise value  # the cell's own exception, SystemExit and KeyboardInterrupt included
        return value

    def _stop(self, task: list, done: concurrent.futures.Future) -> None:
        """Cancel the cell; if it is stuck in code that never awaits, raise KeyboardInterrupt
        in the loop's thread; if even that does not end it, leave that loop to it."""
        self.loop.call_soon_threadsafe(lambda: task and task[0].cancel())
        if concurrent.futures.wait([done], timeout=1).done:
            return
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread.ident),
                                                   ctypes.py_object(KeyboardInterrupt))
        if not concurrent.futures.wait([done], timeout=2).done:
            self.cells_running = 0
            self._start_loop()  # the next cells run on a fresh loop; the stuck one is abandoned


async def _outcome(coroutine: Coroutine) -> tuple[bool, Any]:
    """(True, result) or (False, the exception), whatever it is: asyncio lets SystemExit and
    KeyboardInterrupt out of the loop, which would kill the loop's thread."""
    try:
        return True, await coroutine
    except asyncio.CancelledError:
        raise
    except BaseException as error:  # noqa: B902 -- handed to the cell's caller, not swallowed
        return False, error


def _settle(done: concurrent.futures.Future, finished: asyncio.Task, runner: CellRunner) -> None:
    runner.cells_running -= 1
    if done.done():  # an abandoned cell ending late
        return
    if finished.cancelled():
        done.set_exception(asyncio.CancelledError())
    else:
        done.set_result(finished.result())


_cell_runner: CellRunner | None = None


def run_on_cells_loop(coroutine: Coroutine) -> Any:
    """Run a coroutine from ordinary code in a notebook: on its cells' model-time loop once
    labkit.setup has made one, else on a loop of its own, in a thread of its own."""
    if _cell_runner is not None:
        return _cell_runner(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(run, coroutine).result()


def run_cells_on_model_time() -> bool:
    """In an IPython kernel, run the cells that await on the session's model-time loop.

    Returns whether it did (False outside IPython: scripts use labkit.run instead).
    """
    global _cell_runner
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    if _cell_runner is None:  # re-running the setup cell keeps the loop its objects live on
        _cell_runner = CellRunner(session_clock)
    shell.loop_runner = _cell_runner
    return True
