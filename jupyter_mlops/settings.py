"""Where a project's MLOps state lives, resolved the same way by the server and the kernel.

The server extension resolves its traitlets into a :class:`Settings` and exports the result
to the environment of the kernels it starts (``JUPYTER_MLOPS_*``), so a ``%%track`` cell and
the panel always talk to the same store. ``MLFLOW_TRACKING_URI`` set by the user wins
everywhere, as MLflow users expect.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

#: Folder, inside the project root, that holds the embedded store and other local state.
STATE_DIR_NAME = ".mlops"
ENV_ROOT = "JUPYTER_MLOPS_ROOT"
ENV_TRACKING_URI = "JUPYTER_MLOPS_TRACKING_URI"
ENV_ARTIFACT_LOCATION = "JUPYTER_MLOPS_ARTIFACT_LOCATION"
#: "true" makes ``%%track`` turn on MLflow's autologging in every tracked cell.
ENV_AUTOLOG = "JUPYTER_MLOPS_AUTOLOG"
#: The Prometheus Pushgateway (a URL) jobs push their outcome and metrics to.
ENV_PUSHGATEWAY = "JUPYTER_MLOPS_PUSHGATEWAY"


@dataclass(frozen=True)
class Settings:
    """Resolved settings handed to services; they never see traitlets or the environment."""

    root_dir: Path
    tracking_uri: str
    artifact_location: str | None
    state_dir: Path
    probe_timeout: float = 3.0
    #: Where the tracking URI came from: MLFLOW_TRACKING_URI, configuration, or the default.
    source: Literal["environment", "config", "default"] = "default"
    #: ``%%track`` turns on MLflow's autologging unless a cell says ``--no-autolog``.
    autolog: bool = False
    #: The Pushgateway jobs push to (``JUPYTER_MLOPS_PUSHGATEWAY`` wins), or "" for none.
    pushgateway: str = ""

    @property
    def embedded_store(self) -> bool:
        """Whether the URI names the project's own SQLite file (whatever its query says)."""
        return sqlite_file(self.tracking_uri) == sqlite_file(embedded_tracking_uri(self.state_dir))

    def kernel_environment(self) -> dict[str, str]:
        """Variables that let a kernel started by this server find the same store."""
        env = {ENV_ROOT: str(self.root_dir), ENV_TRACKING_URI: self.tracking_uri}
        if self.artifact_location:
            env[ENV_ARTIFACT_LOCATION] = self.artifact_location
        # Always: a server configured not to autolog wins over the variable in its environment.
        env[ENV_AUTOLOG] = "true" if self.autolog else "false"
        if self.pushgateway:
            env[ENV_PUSHGATEWAY] = self.pushgateway
        return env


def uri_kind(settings: Settings) -> Literal["embedded", "server", "database", "file", "other"]:
    """What kind of store the settings name (the status report's and ``%mlops_status``'s
    ``kind``)."""
    uri = settings.tracking_uri
    if settings.embedded_store:
        return "embedded"
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else "file"
    if scheme in ("http", "https", "databricks"):
        return "server"
    if scheme in ("sqlite", "postgresql", "mysql", "mssql") or "+" in scheme:
        return "database"
    if scheme == "file":
        return "file"
    return "other"


def embedded_tracking_uri(state_dir: Path) -> str:
    # The busy timeout lets several kernels write to the store at once: SQLite waits for
    # the other writer instead of failing with "database is locked".
    return f"sqlite:///{(state_dir / 'mlflow.db').as_posix()}?timeout=60"


def resolve(
    root_dir: str | Path,
    *,
    tracking_uri: str = "",
    artifact_location: str = "",
    state_dir: str = STATE_DIR_NAME,
    probe_timeout: float = 3.0,
    autolog: bool | None = None,
    pushgateway: str = "",
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings: the environment's ``MLFLOW_TRACKING_URI`` first, then the configured
    URI, then the embedded SQLite store under ``<root>/.mlops/``. ``autolog``: the
    configured value, else ``JUPYTER_MLOPS_AUTOLOG`` ("true", "1", "yes", "on").
    ``pushgateway``: ``JUPYTER_MLOPS_PUSHGATEWAY``, else the configured URL."""
    env = os.environ if environ is None else environ
    root = Path(root_dir).expanduser().resolve()
    state = Path(state_dir)
    state = state if state.is_absolute() else root / state
    uri = env.get("MLFLOW_TRACKING_URI") or tracking_uri or embedded_tracking_uri(state)
    source: Literal["environment", "config", "default"] = (
        "environment" if env.get("MLFLOW_TRACKING_URI") else "config" if tracking_uri else "default"
    )
    artifacts: str | None = artifact_location or None
    if artifacts is None and sqlite_file(uri) == sqlite_file(embedded_tracking_uri(state)):
        artifacts = (state / "artifacts").as_uri()
    return Settings(
        root_dir=root,
        tracking_uri=uri,
        artifact_location=artifacts,
        state_dir=state,
        probe_timeout=probe_timeout,
        source=source,
        autolog=flag(env.get(ENV_AUTOLOG)) if autolog is None else autolog,
        pushgateway=(env.get(ENV_PUSHGATEWAY) or pushgateway).strip(),
    )


def from_kernel_environment(cwd: str | Path | None = None) -> Settings:
    """Settings for code running in a kernel: what the server exported, else the current
    folder as the project root."""
    env = os.environ
    root = env.get(ENV_ROOT) or str(cwd or Path.cwd())
    return resolve(
        root,
        tracking_uri=env.get(ENV_TRACKING_URI, ""),
        artifact_location=env.get(ENV_ARTIFACT_LOCATION, ""),
    )


def flag(text: str | None) -> bool:
    """A yes/no environment variable: "true", "1", "yes" and "on" are yes (any case)."""
    return (text or "").strip().lower() in ("1", "true", "yes", "on")


def sqlite_file(uri: str) -> str | None:
    """The database file of a ``sqlite:`` tracking URI, resolved; ``None`` for others."""
    if not uri.startswith("sqlite:"):
        return None
    return str(Path(urlsplit(uri).path).resolve())
