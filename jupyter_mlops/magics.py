"""IPython magics, registered by ``%load_ext jupyter_mlops``.

Magics keep their state on the magics instance (not in module globals) and stay thin: they
parse options and hand the work to the library. Nothing here imports MLflow at load time,
so loading the extension costs a kernel almost nothing.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re
import shlex
import sys
import types
from collections import OrderedDict
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from . import redact
from . import settings as settings_mod


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
    @argument(
        "--autolog",
        action="store_true",
        default=None,
        help="MLflow's autologging (mlflow.autolog: scikit-learn, XGBoost, LightGBM, "
        "PyTorch Lightning...) into this run while the cell runs "
        "(default: the autolog setting, off unless set).",
    )
    @argument(
        "--no-autolog",
        action="store_false",
        dest="autolog",
        help="No autologging in this cell, whatever the setting.",
    )
    @cell_magic
    def track(self, line: str, cell: str) -> Any:
        """Run the cell exactly as it would run untracked and record it as one MLflow run."""
        __tracebackhide__ = True
        args = _parse(self.track, line)
        params = _names(args.params, "--params")
        metrics = _names(args.metrics, "--metrics")
        tags = _tags(args.tags)
        # A cell that cannot be compiled fails as it would untracked, and is no run.
        code, last, quiet = self._compile(cell)
        from .tracking.tracker import Tracker

        tracker = Tracker(
            self.session,
            name=args.name,
            experiment=args.experiment,
            params=params,
            metrics=metrics,
            data=args.data,
            tags=tags,
            source=cell,
            namespace=self.shell.user_ns if self.shell else {},
            cwd=os.getcwd(),
            autolog=self.settings.autolog if args.autolog is None else args.autolog,
        )
        try:
            with tracker:
                value = self._execute(code, last)
                if not quiet:
                    tracker.show(value)  # a figure left as the cell's value
            return None if quiet else value
        finally:
            if not args.no_card:
                self._card(tracker)

    def _card(self, tracker: Any) -> None:
        """Show the run card after the cell's own output (the value of its last expression,
        or its error) and let it follow the delivery. Made and shown together once the
        cell is done: it opens with the run's final state, and its two messages (the
        widget's comm and its display) go out after the journal thread wrote the run. A
        card that cannot be made must not hide the cell's outcome."""
        events = getattr(self.shell, "events", None)
        if events is None:
            self._show_card(tracker)
            return

        def show_once(*_: Any) -> None:
            events.unregister("post_run_cell", show_once)
            self._show_card(tracker)

        events.register("post_run_cell", show_once)

    def _show_card(self, tracker: Any) -> None:
        try:
            from .tracking.card import RunCard

            card = RunCard(tracker.record)
            card.show()

            def follow(outcome: Any) -> None:
                # A rerun's name is settled where the run is created ("sgd baseline #2").
                if outcome.run_name:
                    tracker.record.run_name = outcome.run_name
                card.update(outcome)

            self.session.listen(tracker.key, follow)
        except Exception as exc:
            print(f"jupyter-mlops: no run card ({type(exc).__name__}: {exc})", file=sys.stderr)

    def _compile(self, cell: str) -> tuple[Any, Any, bool]:
        """The cell compiled as IPython compiles it: the code without its last expression,
        that expression (or None), and whether a trailing ';' hides its value. A cell run
        again (the steady state of notebook work) reuses its compiled code."""
        __tracebackhide__ = True
        shell: Any = self.shell
        key = (cell, tuple(map(id, shell.ast_transformers)))
        compiled = _COMPILED.get(key)
        if compiled is None:
            transformed = shell.transform_cell(cell)
            tree = shell.compile.ast_parse(transformed, filename=_PENDING_NAME)
            tree = shell.transform_ast(tree)
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = compile(ast.Expression(tree.body.pop().value), _PENDING_NAME, "eval")
            code = compile(tree, _PENDING_NAME, "exec")
            compiled = (transformed, code, last, _ends_with_semicolon(transformed))
            _COMPILED[key] = compiled
            while len(_COMPILED) > COMPILE_CACHE:
                _COMPILED.popitem(last=False)
        else:
            _COMPILED.move_to_end(key)
        transformed, code, last, quiet = compiled
        # Tracebacks name the cell as IPython does: "Cell In[n]" of the cell being run.
        history = getattr(shell.history_manager, "input_hist_parsed", None)
        number = len(history) - 1 if history else shell.execution_count
        filename = shell.compile.cache(transformed, number, raw_code=cell)
        return _named(code, filename), _named(last, filename), quiet

    def _execute(self, code: Any, last: Any) -> Any:
        """Run the compiled cell in the user namespace; return the value of its last
        expression (displayed as it would be without the magic). Exceptions go on unchanged."""
        __tracebackhide__ = True
        namespace = self.shell.user_ns if self.shell else {}
        exec(code, namespace)  # noqa: S102 - the user's own cell
        if last is not None:
            return eval(last, namespace)  # noqa: S307
        return None

    @magic_arguments()
    @argument("--json", action="store_true", help="Print the settings as JSON.")
    @line_magic
    def mlops(self, line: str) -> None:
        """Show where this kernel tracks runs and keeps project state."""
        args = _parse(self.mlops, line)
        s = self.settings
        info = {
            "project_root": str(s.root_dir),
            "tracking_uri": redact.mask(s.tracking_uri),
            "store": settings_mod.uri_kind(s),
            "artifact_location": s.artifact_location,
        }
        if args.json:
            import json

            print(json.dumps(info, indent=2))
            return
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key.replace('_', ' '):<{width}}  {value}")

    @magic_arguments()
    @argument("paths", nargs="*", metavar="PATH", help="Files or folders to snapshot.")
    @argument("-m", "--message", help="What this version is (kept in the history).")
    @argument("--push", action="store_true", help="Push the new versions to the DVC remote.")
    @argument("--remote", help="The DVC remote to push to (default: DVC's default remote).")
    @argument("--commit", action="store_true", help="Commit the .dvc files with the message (git).")
    @argument(
        "--link",
        choices=("reflink", "hardlink", "symlink", "copy"),
        help="Set DVC's cache.type for the project first (links: no second copy of the data).",
    )
    @line_magic
    def snapshot(self, line: str) -> None:
        """Snapshot data with DVC: a new version where the data changed, the .dvc files
        staged with git; runs tracked with ``%%track --data PATH`` link to the version."""
        args = _parse(self.snapshot, line)
        if not args.paths:
            raise UsageError("%snapshot: give at least one data path (%snapshot PATH...).")
        from .data.interactive import snapshot_in_kernel
        from .errors import MlopsError

        try:
            snapshot_in_kernel(
                self.settings,
                args.paths,
                message=args.message,
                push=args.push,
                remote=args.remote,
                commit=args.commit,
                link=args.link,
            )
        except MlopsError as exc:
            raise UsageError(f"%snapshot: {exc.message}") from None

    @magic_arguments()
    @argument("reference", metavar="REFERENCE", help="run:<id>, path@version, a path or a name.")
    @argument("current", metavar="CURRENT", help="A path, path@version or a DataFrame's name.")
    @argument("--threshold", type=float, default=0.5, help="Share of drifted columns (0-1).")
    @line_magic
    def drift(self, line: str) -> Any:
        """Check data for drift against a reference (by default give ``run:<id>``: the DVC
        version the training run read); inside ``%%track`` it logs into the run. A name
        of a DataFrame in the notebook stands for that frame."""
        args = _parse(self.drift, line)
        from .drift import drift
        from .errors import MlopsError

        ns = self.shell.user_ns if self.shell is not None else {}
        given = [
            ns[name] if name.isidentifier() and name in ns else name
            for name in (args.reference, args.current)
        ]
        try:
            return drift(given[0], given[1], threshold=args.threshold)
        except MlopsError as exc:
            raise UsageError(f"%drift: {exc.message}") from None


def _parse(magic: Any, line: str) -> Any:
    """A magic's options, split as a shell splits words: quotes group and go away
    (``-m "relabelled the cats"`` is the message ``relabelled the cats``; IPython's own
    splitting would keep the quote marks)."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"{exc} in the options: {line.strip()}") from None
    return magic.parser.parse_args(argv)


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
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--tags: {item.strip()!r} is not key=value (expected k=v,k2=v2).")
        # MLflow's rule for tag names; a run with a bad one could never be delivered.
        if not _TAG_NAME.fullmatch(key) or _not_a_unique_path(key):
            raise UsageError(
                f"--tags: {key!r} is not a tag name (letters, digits, and _ - . / : space)."
            )
        tags[key] = value.strip()
    return tags


_TAG_NAME = re.compile(r"[\w.\- /:]{1,250}")


def _not_a_unique_path(key: str) -> bool:
    norm = posixpath.normpath(key)
    return norm != key or norm == "." or norm.startswith(("..", "/"))


#: Cells compiled lately (source and AST transformers -> transformed source, code, last
#: expression, quiet): a cell run again is neither transformed nor compiled again.
_COMPILED: OrderedDict[tuple[str, tuple[int, ...]], tuple[str, Any, Any, bool]] = OrderedDict()
COMPILE_CACHE = 64
_PENDING_NAME = "<jupyter-mlops-cell>"


def _named(code: Any, filename: str) -> Any:
    """``code`` (and the functions and classes it defines) as compiled from ``filename``."""
    if code is None or code.co_filename == filename:
        return code
    consts = tuple(
        _named(c, filename) if isinstance(c, types.CodeType) else c for c in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=consts)


def _ends_with_semicolon(code: str) -> bool:
    """Whether a trailing ';' hides the value of the code's last expression."""
    from IPython.core.displayhook import DisplayHook

    try:
        return bool(DisplayHook.semicolon_at_end_of_expression(code))
    except Exception:  # tokenize errors: nothing to hide
        return False


def register(ipython: Any) -> None:
    ipython.register_magics(MlopsMagics)


def unregister(ipython: Any) -> None:
    registry = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        for name in list(registry[kind]):
            owner = getattr(registry[kind][name], "__self__", None)
            if isinstance(owner, MlopsMagics):
                del registry[kind][name]
