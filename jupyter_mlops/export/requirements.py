"""Pinned requirements for a job, read from the environment of the notebook's kernel.

The server's environment says nothing about the notebook's: a kernel can be another venv,
a conda env, another Python. So export runs the kernel's own Python (the kernelspec's
command, as Jupyter would start it) with a small script that maps each imported top-level
module to the distributions that provide it (``importlib.metadata``) and reports their
versions and the Python version, which picks the base image.

What the job runner needs comes on top, pinned from the kernel when it has them, else from
the environment running export:

- ``papermill`` runs the notebook, ``ipykernel`` is the kernel it runs in;
- ``mlflow-skinny`` is the MLflow client the job records its run with: it talks to a
  tracking server over HTTP(S) without the server, UI and SQL store of full ``mlflow``
  (hundreds of MB). A notebook that imports ``mlflow`` gets full ``mlflow`` pinned as any
  import; a job that should write to a database store directly needs it too (add it to a
  ``--requirements`` file);
- ``prometheus-client`` pushes the run's outcome and metrics to a Pushgateway
  (:mod:`jupyter_mlops.monitoring.push`), when one is configured;
- ``apprise`` sends the job's notifications (:mod:`jupyter_mlops.export.notify`).

jupyter-mlops itself is not pinned: the Docker target copies its runtime into the image,
so the job runs the very code that exported it.

A ``--requirements FILE`` replaces the guess: its lines are kept as written and only the
runner's packages it does not name are added.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import InvalidInput, reason

#: The job runner's own needs (see the module docstring).
RUNNER = ("papermill", "ipykernel", "mlflow-skinny", "prometheus-client", "apprise")
#: Never pinned: the Docker target copies jupyter-mlops' runtime into the image.
OURS = "jupyter-mlops"
PROBE_TIMEOUT = 120.0
_MARKER = "@@jupyter-mlops-probe@@"

# Runs in the kernel's Python, which may be older than ours: plain Python 3.8.
_PROBE = r"""
import json, platform, sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
import importlib.util
from importlib import metadata

request = json.load(sys.stdin)
stdlib = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)

def scan_owners():
    # Which distributions provide each top-level module: reads every installed RECORD.
    if hasattr(metadata, "packages_distributions"):
        return metadata.packages_distributions()
    found = {}
    for dist in metadata.distributions():
        for path in dist.files or ():
            top = path.parts[0] if len(path.parts) > 1 else path.name.split(".")[0]
            if not top.endswith((".dist-info", ".egg-info")) and top != "..":
                found.setdefault(top, []).append(dist.metadata["Name"])
    return found

def cached_owners(cache_dir):
    # The scan costs a second in a large environment; it only changes when a distribution
    # is installed, removed or upgraded, which changes the names (and times) of the
    # *.dist-info folders on sys.path: those make the cache key.
    import hashlib, os
    if not cache_dir:
        return scan_owners()
    key = hashlib.sha256(sys.executable.encode())
    for folder in sys.path:
        try:
            with os.scandir(folder or ".") as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    if entry.name.endswith((".dist-info", ".egg-info", ".egg-link", ".pth")):
                        key.update(f"{folder}/{entry.name}:{entry.stat().st_mtime_ns}".encode())
        except OSError:
            pass
    path = os.path.join(cache_dir, "owners-" + key.hexdigest()[:32] + ".json")
    try:
        with open(path, encoding="utf-8") as cached:
            return json.load(cached)
    except (OSError, ValueError):
        pass
    found = scan_owners()
    try:
        os.makedirs(cache_dir, exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as fresh:
            json.dump(found, fresh)
        os.replace(path + ".tmp", path)
    except OSError:
        pass
    return found

owners = cached_owners(request.get("cache_dir"))

def depth(dist, dotted):
    # How deep the dotted names' paths go into the distribution's files (0: not at all).
    try:
        paths = [str(p).replace("\\", "/") for p in metadata.distribution(dist).files or ()]
    except Exception:
        return 0
    best = 0
    for name in dotted:
        prefix = name.replace(".", "/")
        if any(p.startswith(prefix + "/") or p.startswith(prefix + ".") for p in paths):
            best = max(best, name.count(".") + 1)
    return best

modules = {}
for top, dotted in request["modules"].items():
    dists = sorted(set(owners.get(top, [])))
    if top in stdlib:
        kind, dists = "stdlib", []
    elif dists:
        kind = "dist"
        if len(dists) > 1:
            scores = dict((d, depth(d, dotted)) for d in dists)
            best = max(scores.values())
            if best > 1:
                dists = [d for d in dists if scores[d] == best]
    else:
        try:
            spec = importlib.util.find_spec(top)
        except Exception:
            spec = None
        kind = "missing" if spec is None else "unpackaged"
    modules[top] = {"kind": kind, "distributions": dists}

versions = {}
wanted = set(request["distributions"])
for entry in modules.values():
    wanted.update(entry["distributions"])
for name in sorted(wanted):
    try:
        dist = metadata.distribution(name)
    except Exception:
        continue
    info = {"name": dist.metadata["Name"] or name, "version": dist.version}
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "null")
    except ValueError:
        direct = None
    if isinstance(direct, dict):
        info["direct_url"] = direct
    versions[name] = info

print(%(marker)r + json.dumps({
    "python": platform.python_version(),
    "executable": sys.executable,
    "modules": modules,
    "versions": versions,
}))
""".replace("%(marker)r", repr(_MARKER))


def _cache_dir() -> Path:
    """Where the probe keeps which distribution provides which module, per environment."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jupyter-mlops" / "probe"


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


# -- the kernel -------------------------------------------------------------------------------
@dataclass
class Kernel:
    """A kernelspec's way to start its Python."""

    name: str
    command: list[str]
    env: dict[str, str]


def kernel_of(notebook: Any) -> str:
    """The kernel a notebook names in its metadata (Jupyter's default: python3)."""
    spec = notebook.get("metadata", {}).get("kernelspec") or {}
    return str(spec.get("name") or "python3")


def find_kernel(name: str, manager: Any = None) -> Kernel:
    """How to run the Python of kernel ``name``: its kernelspec command up to
    ``-m ipykernel_launcher`` (so ``conda run ... python`` works), with ``python`` meaning
    this interpreter as in jupyter_client, and the kernelspec's environment."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = manager or KernelSpecManager()
    try:
        spec = manager.get_kernel_spec(name)
    except NoSuchKernel:
        known = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise InvalidInput(
            f"the notebook's kernel '{name}' is not installed here (known kernels: {known}); "
            "export reads the packages from that kernel's environment: install the kernel, "
            "or name the requirements with --requirements FILE"
        ) from None
    if (spec.language or "").lower() != "python":
        raise InvalidInput(
            f"kernel '{name}' runs {spec.language or 'an unknown language'}; export runs "
            "Python notebooks"
        )
    argv = [a.replace("{resource_dir}", spec.resource_dir or "") for a in spec.argv]
    end = next(
        (i for i in range(len(argv) - 1) if argv[i] == "-m" and "ipykernel" in argv[i + 1]),
        1,
    )
    command = argv[:end] or [sys.executable]
    major, minor = sys.version_info[:2]
    if command[0] in ("python", f"python{major}", f"python{major}.{minor}"):
        command[0] = sys.executable
    return Kernel(name, command, {k: str(v) for k, v in (spec.env or {}).items()})


@dataclass
class Environment:
    """What the probe found in a kernel's Python."""

    python: str
    executable: str
    #: top-level module -> {"kind": stdlib|dist|missing|unpackaged, "distributions": [...]}
    modules: dict[str, dict[str, Any]]
    #: canonical distribution name -> {"name", "version", "direct_url"?}
    versions: dict[str, dict[str, Any]]

    @property
    def major_minor(self) -> str:
        return ".".join(self.python.split(".")[:2])


def probe(kernel: Kernel, imports: Iterable[str], distributions: Iterable[str]) -> Environment:
    """Ask the kernel's Python about the modules (dotted names, grouped by top level here)
    and the distributions."""
    modules: dict[str, list[str]] = {}
    for dotted in sorted(set(imports)):
        modules.setdefault(dotted.split(".")[0], []).append(dotted)
    request = json.dumps(
        {
            "modules": modules,
            "distributions": sorted(set(distributions)),
            "cache_dir": str(_cache_dir()),
        }
    )
    env = {**os.environ, **kernel.env}
    where = f"kernel '{kernel.name}'"
    try:
        done = subprocess.run(
            [*kernel.command, "-c", _PROBE],
            input=request,
            capture_output=True,
            text=True,
            env=env,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InvalidInput(
            f"cannot run the Python of {where}: {reason(exc)}; pass --requirements FILE"
        ) from None
    line = next((x for x in done.stdout.splitlines() if x.startswith(_MARKER)), None)
    if done.returncode != 0 or line is None:
        last = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise InvalidInput(f"cannot read the packages of {where}: {last}; pass --requirements FILE")
    answer = json.loads(line[len(_MARKER) :])
    versions = {canonical(info["name"]): info for info in answer["versions"].values()}
    return Environment(answer["python"], answer["executable"], answer["modules"], versions)


# -- pinning --------------------------------------------------------------------------------
@dataclass
class Requirements:
    """The job's ``requirements.txt`` and the Python it was pinned for."""

    text: str
    python: str
    #: Canonical names of the distributions pinned (or named), in file order.
    names: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Pins:
    def __init__(self) -> None:
        self.sections: list[tuple[str, list[str]]] = []
        self.names: list[str] = []
        self.warnings: list[str] = []

    def section(self, title: str) -> list[str]:
        lines: list[str] = []
        self.sections.append((title, lines))
        return lines

    def add(self, lines: list[str], name: str, line: str) -> None:
        key = canonical(name)
        if key == OURS or key in self.names:
            return
        self.names.append(key)
        lines.append(line)

    def render(self, header: list[str]) -> str:
        out = [f"# {h}" for h in header]
        for title, lines in self.sections:
            if lines:
                out += ["", f"# {title}", *lines]
        return "\n".join(out) + "\n"


def pin(
    env: Environment,
    kernel_name: str,
    imports: Iterable[str],
    pip_specs: Iterable[str] = (),
) -> Requirements:
    """Requirements pinned from the kernel's environment: the distributions behind the
    imports (stdlib left out), the ``%pip install`` lines, then the runner's needs."""
    pins = _Pins()
    imported = pins.section("Imported by the notebook (and its local modules)")
    tops = sorted({d.split(".")[0] for d in imports})
    unknown: list[str] = []
    for top in tops:
        found = env.modules.get(top, {"kind": "missing", "distributions": []})
        if found["kind"] in ("missing", "unpackaged"):
            unknown.append(top)
        for dist in found["distributions"]:
            info = env.versions.get(canonical(dist))
            if info is not None:
                _add_installed(pins, imported, info, f"imported as {top}")
    if unknown:
        pins.warnings.append(
            f"imports that map to no installed distribution in kernel '{kernel_name}': "
            f"{', '.join(unknown)} (the job will fail with ModuleNotFoundError unless "
            "--requirements FILE names them)"
        )
    _pin_pip_specs(pins, env, pip_specs)
    _pin_runner(pins, env)
    header = [
        f"Pinned by jupyter-mlops {__version__} from the environment of kernel "
        f"'{kernel_name}' (Python {env.python}).",
        "Re-export to refresh; `jupyter mlops export --requirements FILE` replaces the guess.",
    ]
    return Requirements(pins.render(header), env.python, pins.names, pins.warnings)


def from_file(path: Path, env: Environment | None, python: str) -> Requirements:
    """The user's requirements file as written, plus the runner's needs it does not name."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"requirements file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the requirements file {path}: {reason(exc)}") from None
    pins = _Pins()
    for line in text.splitlines():
        name = _requirement_name(line.split(" #", 1)[0].strip())
        if name:
            pins.names.append(canonical(name))
    user = pins.section(f"From {path.name}")
    user += [line.rstrip() for line in text.splitlines()]
    _pin_runner(pins, env)
    header = [f"Requirements of {path.name}, plus what the job runner needs (jupyter-mlops)."]
    return Requirements(pins.render(header), python, pins.names, pins.warnings)


def _requirement_name(text: str) -> str | None:
    from packaging.requirements import InvalidRequirement, Requirement

    if not text or text.startswith(("#", "-")):
        return None
    try:
        return Requirement(text).name
    except InvalidRequirement:
        return None


def _add_installed(pins: _Pins, lines: list[str], info: dict[str, Any], why: str) -> None:
    """``name==version``, or how a distribution installed from a URL is reinstalled; one
    installed from a local folder cannot be, and is reported."""
    name, version = info["name"], info["version"]
    direct = info.get("direct_url") or {}
    url = str(direct.get("url", ""))
    vcs = direct.get("vcs_info")
    if canonical(name) == OURS:
        return
    if isinstance(vcs, dict) and url:
        pins.add(lines, name, f"{name} @ {vcs.get('vcs', 'git')}+{url}@{vcs.get('commit_id')}")
    elif url.startswith("file:"):
        pins.warnings.append(
            f"{name} ({why}) is installed from a local folder or file ({url}): the image "
            "cannot install it from a package index; name it in --requirements FILE"
        )
        pins.add(lines, name, f"# {name}=={version}  (installed from {url}: not pinned)")
    elif url:
        pins.add(lines, name, f"{name} @ {url}")
    else:
        pins.add(lines, name, f"{name}=={version}")


def _pin_pip_specs(pins: _Pins, env: Environment, specs: Iterable[str]) -> None:
    from packaging.requirements import InvalidRequirement, Requirement

    lines = pins.section("From %pip install lines in the notebook")
    for spec in specs:
        try:
            wanted = Requirement(spec)
        except InvalidRequirement:
            if spec.startswith((".", "/", "~")):
                pins.warnings.append(
                    f"%pip install {spec} installs a local path: not carried into the job"
                )
            else:
                lines.append(spec)  # a URL or something pip knows better than we do
            continue
        info = env.versions.get(canonical(wanted.name))
        if (
            wanted.url
            or info is None
            or not wanted.specifier.contains(info["version"], prereleases=True)
        ):
            if info is None and not wanted.url:
                pins.warnings.append(
                    f"%pip install {spec}: not installed in the kernel, so not pinned"
                )
            pins.add(lines, wanted.name, spec)
            continue
        extras = f"[{','.join(sorted(wanted.extras))}]" if wanted.extras else ""
        pins.add(lines, wanted.name, f"{info['name']}{extras}=={info['version']}")


def _pin_runner(pins: _Pins, env: Environment | None) -> None:
    lines = pins.section(
        "The job runner: papermill runs the notebook in ipykernel, mlflow-skinny records the "
        "run, prometheus-client pushes its metrics, apprise sends its notifications"
    )
    kernel_versions = env.versions if env is not None else {}
    for name in RUNNER:
        info = kernel_versions.get(name)
        if info is None and name == "mlflow-skinny":
            info = kernel_versions.get("mlflow")  # full mlflow depends on the same skinny
        version = info["version"] if info is not None else _local_version(name)
        if version is None:
            pins.warnings.append(f"{name} is installed nowhere here: not pinned")
            pins.add(lines, name, name)
        else:
            pins.add(lines, name, f"{name}=={version}")


def _local_version(name: str) -> str | None:
    """The version installed alongside jupyter-mlops (the environment running export)."""
    for candidate in (name, "mlflow") if name == "mlflow-skinny" else (name,):
        try:
            return metadata.version(candidate)
        except metadata.PackageNotFoundError:
            continue
    return None
