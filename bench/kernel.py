"""A real IPython kernel driven through jupyter_client, timing cells by wall clock."""

from __future__ import annotations

import os
import time
from typing import Any

from jupyter_client.manager import start_new_kernel


class Kernel:
    def __init__(self, cwd: str, env: dict[str, str] | None = None) -> None:
        environment = {**os.environ, **(env or {})}
        self.manager, self.client = start_new_kernel(
            kernel_name="python3", cwd=cwd, env=environment
        )

    def run(self, code: str, timeout: float = 120) -> tuple[float, list[dict[str, Any]]]:
        """Execute ``code``; return the wall time until its reply and its outputs."""
        outputs: list[dict[str, Any]] = []
        start = time.perf_counter()
        reply = self.client.execute_interactive(
            code, timeout=timeout, output_hook=outputs.append, allow_stdin=False
        )
        elapsed = time.perf_counter() - start
        if reply["content"]["status"] != "ok":
            errors = [o["content"] for o in outputs if o["msg_type"] == "error"]
            raise RuntimeError(f"cell failed: {errors or reply['content']}")
        return elapsed, outputs

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
