"""The one URL scrubber: what of a URI may be written, shown or logged.

A tracking URI, a DVC remote or a git remote may carry credentials: ``user:password@``
(or a bare token as the user), and secret-looking query values (``?token=``, ``?sig=``...).

- :func:`without_credentials`: what may be *written* (a job, an image, a manifest, a run's
  tags, the run journal): the credentials removed, the place still named.
- :func:`mask`: what may be *shown* (the panel, `%mlops`, a log line): the credentials
  replaced by ``***``, so that a user sees that there were some.
- :func:`base_url`: a server's address without credentials, query or fragment (health
  checks, links to its UI).
- :func:`with_credentials`: the way back, for whoever must talk to the store: the full URI
  from this process's environment whose credential-free form is the stored one.
- :func:`scrub_text`: the same masking applied to every URL and ``secret=value`` pair in a
  free text (an error message kept on disk or logged).

URIs without an authority (``sqlite:////path``, ``file:///path``, ``git@host:repo``, a
plain path) keep any ``@`` of their path: only the part between ``scheme://`` and the
next ``/``, ``?`` or ``#`` can hold credentials.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote_plus

#: A query parameter whose name contains one of these holds a secret.
SECRET_QUERY_KEYS = (
    "password",
    "passwd",
    "pwd",
    "token",
    "secret",
    "key",
    "signature",
    "sig",
    "credential",
)
MASK = "***"

#: Environment variables whose URI may carry the credentials of a stored URI (MLflow's own
#: variable first, then what the jupyter-mlops server exports to its kernels).
CREDENTIAL_ENV = (
    "MLFLOW_TRACKING_URI",
    "JUPYTER_MLOPS_TRACKING_URI",
    "JUPYTER_MLOPS_ARTIFACT_LOCATION",
)

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*://)", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>`]+", re.IGNORECASE)
_PAIR_IN_TEXT = re.compile(r"([A-Za-z0-9_.%-]+)=([^&\s'\"<>`/#;,)]+)")


def is_secret_key(name: str) -> bool:
    """Whether a query parameter's name says that its value is a secret."""
    lowered = unquote_plus(name).lower()
    return any(word in lowered for word in SECRET_QUERY_KEYS)


def _split(uri: str) -> tuple[str, str, str, str, str, str]:
    """``scheme://``, userinfo (with its ``@``), the rest of the authority and path, the
    query (with its ``?``), the fragment (with its ``#``); by string positions only, so
    that nothing is re-encoded and an unparsable IPv6 host cannot make it fail."""
    body, hash_mark, fragment = uri.partition("#")
    body, mark, query = body.partition("?")
    match = _SCHEME.match(body)
    scheme = match.group(1) if match else ""
    rest = body[len(scheme) :]
    userinfo = ""
    if scheme:
        authority_end = len(rest) if "/" not in rest else rest.index("/")
        authority = rest[:authority_end]
        if "@" in authority:
            cut = authority.rindex("@") + 1
            userinfo, rest = rest[:cut], rest[cut:]
    return scheme, userinfo, rest, mark + query, hash_mark + fragment, query


def _query_pairs(query: str) -> list[tuple[str, str]]:
    """The raw ``name=value`` parts of a query, in order, undecoded."""
    return [(part.partition("=")[0], part) for part in query.split("&")]


def without_credentials(uri: str) -> str:
    """``uri`` as it may be written into a job, an image, a manifest or the run journal:
    without the ``user:password@`` of its authority and without secret-looking query
    values, the rest exactly as it was (it still names the place; the credentials come
    from where it is used)."""
    scheme, userinfo, rest, query_part, fragment, query = _split(uri)
    if not userinfo and not any(is_secret_key(k) for k, _ in _query_pairs(query)):
        return uri
    if query_part:
        kept = [raw for name, raw in _query_pairs(query) if not is_secret_key(name)]
        query_part = "?" + "&".join(kept) if kept else ""
    return scheme + rest + query_part + fragment


def mask(uri: str) -> str:
    """``uri`` as it may be shown: the password (or a bare token as user) and secret query
    values replaced by ``***``; a URI without credentials is returned unchanged."""
    scheme, userinfo, rest, query_part, fragment, query = _split(uri)
    if userinfo:
        user, colon, _ = userinfo[:-1].partition(":")
        userinfo = f"{user}:{MASK}@" if colon else f"{MASK}@"
    if query_part:
        parts = []
        for name, raw in _query_pairs(query):
            parts.append(f"{name}={MASK}" if is_secret_key(name) else raw)
        query_part = "?" + "&".join(parts)
    return scheme + userinfo + rest + query_part + fragment


def base_url(uri: str) -> str:
    """A server's address: ``uri`` without credentials, query, fragment or trailing slash
    (what a health check or a link to the server's UI needs)."""
    scheme, _, rest, _, _, _ = _split(uri)
    return scheme + rest.rstrip("/")


def with_credentials(stored: str, candidates: Iterable[str] = ()) -> str:
    """The full URI for a ``stored`` credential-free one: the first of ``candidates``, then
    of this process's environment (:data:`CREDENTIAL_ENV`), whose credential-free form is
    ``stored``; ``stored`` itself when none is (MLflow then takes
    ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``/``TOKEN`` from the environment as usual)."""
    return next(
        (uri for uri in _candidates(candidates, os.environ) if without_credentials(uri) == stored),
        stored,
    )


def _candidates(extra: Iterable[str], environ: Mapping[str, str]) -> Iterable[str]:
    yield from (uri for uri in extra if uri)
    yield from (environ[name] for name in CREDENTIAL_ENV if environ.get(name))


def scrub_text(text: str) -> str:
    """``text`` (an error message, a log line) with every URL masked (:func:`mask`) and
    the value of every ``secret=value`` pair replaced by ``***``, wherever it appears (a
    request's path quoted without its host still holds its query)."""
    text = _URL_IN_TEXT.sub(lambda m: mask(m.group(0)), text)
    return _PAIR_IN_TEXT.sub(
        lambda m: f"{m.group(1)}={MASK}" if is_secret_key(m.group(1)) else m.group(0), text
    )
