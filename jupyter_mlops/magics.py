"""IPython magics, registered by ``%load_ext jupyter_mlops``.

Magics keep their state on the magics instance (not in module globals) and stay thin: they
parse options and hand the work to the library. Nothing here imports MLflow at load time,
so loading the extension costs a kernel almost nothing.
"""

from __future__ import annotations

import ast
import os
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from . import settings as settings_mod
from .services.tracking import uri_kind


@magics_class
class MlopsMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.settings = settings_mod.from_kernel_environment()
        self._session: Any = None

    @property
    def session(self) -> Any:
        """The process's tracking session, created on the first tracked cell."""
        if self._session is None:
            from .tracking.session import default_session

            self._session = default_session()
        return self._session

    @magic_arguments()
    @argument("--name", help="Run name (default: the cell's first comment or first assigned name).")
    @argument("--experiment", help="Experiment name (default: the notebook's name).")
    @argument(
        "--params",
        help="Comma-separated names to record as parameters "
        "(default: the simple values the cell assigns, and the notebook's parameters).",
    )
    @argument("--metrics", help="Comma-separated names whose final numeric values are metrics.")
    @argument(
        "--data",
        action="append",
        default=[],
        metavar="PATH",
        help="A data path the cell reads; its version (DVC hash or content hash) is "
        "recorded. Repeat for several paths.",
    )
    @argument("--tags", help="Comma-separated key=value tags for the run.")
    @argument("--no-card", action="store_true", help="Do not show the run card.")
    @cell_magic
    def track(self, line: str, cell: str) -> Any:
        """Run the cell exactly as it would run untracked and record it as one MLflow run."""
        __tracebackhide__ = True
        args = parse_argstring(self.track, line)
        from .tracking.card import RunCard
        from .tracking.tracker import Tracker

        tracker = Tracker(
            self.session,
            name=args.name,
            experiment=args.experiment,
            params=_names(args.params, "--params"),
            metrics=_names(args.metrics, "--metrics"),
            data=args.data,
            tags=_tags(args.tags),
            source=cell,
            namespace=self.shell.user_ns if self.shell else {},
            cwd=os.getcwd(),
        )
        try:
            with tracker:
                return self._run_cell(cell)
        finally:
            if not args.no_card:
                # Made once the run ended, so it opens with its final state; it then
                # follows the delivery (pending, saved) from the session's watcher.
                card = RunCard(tracker.record)
                card.show()
                self.session.listen(tracker.key, card.update)

    def _run_cell(self, cell: str) -> Any:
        """Run the cell's code in the user namespace; return the value of a last expression
        (so it is displayed as it would be without the magic). Exceptions go on unchanged."""
        __tracebackhide__ = True
        shell: Any = self.shell
        transformed = shell.transform_cell(cell)
        filename = shell.compile.cache(transformed, shell.execution_count, raw_code=cell)
        tree = shell.compile.ast_parse(transformed, filename=filename)
        tree = shell.transform_ast(tree)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, filename, "exec"), shell.user_ns)  # noqa: S102 - the user's own cell
        if last is not None:
            return eval(compile(last, filename, "eval"), shell.user_ns)  # noqa: S307
        return None

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


def _names(text: str | None, option: str) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if not n.isidentifier()]
    if bad:
        raise UsageError(f"{option}: {bad[0]!r} is not a Python name (expected a,b,c).")
    return names


def _tags(text: str | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--tags: {item.strip()!r} is not key=value (expected k=v,k2=v2).")
        tags[key.strip()] = value.strip()
    return tags


def register(ipython: Any) -> None:
    ipython.register_magics(MlopsMagics)


def unregister(ipython: Any) -> None:
    registry = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        for name in list(registry[kind]):
            owner = getattr(registry[kind][name], "__self__", None)
            if isinstance(owner, MlopsMagics):
                del registry[kind][name]
