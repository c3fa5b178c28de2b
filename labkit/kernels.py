"""How labkit starts Jupyter kernels: for `make course`, `make cassettes` and the grader."""
from __future__ import annotations

import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import default


class IPCKernelManager(AsyncKernelManager):
    """Kernels reached through local sockets (IPC), not TCP: no port open to the machine's
    other users, and so no "Kernel is running over TCP without encryption" warning."""

    @default("transport")
    def _ipc(self) -> str:
        return "ipc"

    @default("ip")
    def _socket_path_prefix(self) -> str:
        # Absolute: the kernel runs in the notebook's folder, its manager wherever it was started.
        runtime = Path(jupyter_runtime_dir())
        runtime.mkdir(parents=True, exist_ok=True)
        return str(runtime / f"kernel-{uuid.uuid4().hex[:12]}-ipc")
