"""IPython magics, registered by ``%load_ext jupyter_mlops``.

Magics keep their state on the magics instance (not in module globals) and stay thin: they
parse options and hand the work to the library. Nothing here imports MLflow at load time,
so loading the extension costs a kernel almost nothing.
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from . import settings as settings_mod
from .services.tracking import uri_kind


@magics_class
class MlopsMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.settings = settings_mod.from_kernel_environment()

    @magic_arguments()
    @argument("--json", action="store_true", help="Print the settings as JSON.")
    @line_magic
    def mlops(self, line: str) -> None:
        """Show where this kernel tracks runs and keeps project state."""
        args = parse_argstring(self.mlops, line)
        s = self.settings
        info = {
            "project_root": str(s.root_dir),
            "tracking_uri": settings_mod.mask_uri(s.tracking_uri),
            "store": uri_kind(s),
            "artifact_location": s.artifact_location,
        }
        if args.json:
            import json

            print(json.dumps(info, indent=2))
            return
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key.replace('_', ' '):<{width}}  {value}")


def register(ipython: Any) -> None:
    ipython.register_magics(MlopsMagics)


def unregister(ipython: Any) -> None:
    registry = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        for name in list(registry[kind]):
            owner = getattr(registry[kind][name], "__self__", None)
            if isinstance(owner, MlopsMagics):
                del registry[kind][name]
