"""The one URL scrubber (``jupyter_mlops.redact``): what of a URI may be written, shown or
logged, for every shape of URI a tracking store, a DVC remote or a git remote takes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from jupyter_mlops import redact
from jupyter_mlops.redact import base_url, mask, scrub_text, with_credentials, without_credentials

#: URIs that hold no credentials: every function leaves them exactly as they are.
CLEAN = [
    "sqlite:////tmp/project/.mlops/mlflow.db",
    "sqlite:////tmp/project/.mlops/mlflow.db?timeout=60",
    "sqlite:///relative/mlflow.db",
    # An '@' in a path is not a user name: only the authority can hold credentials.
    "sqlite:////home/me@work/mlflow.db",
    "file:///tmp/mlruns",
    "file:///home/a@b/mlruns",
    "http://127.0.0.1:5000",
    "http://[::1]:5000/mlflow",
    "https://mlflow.example.com/path?experiment=3",
    "https://host/s?region=eu&versioned=",
    # A query kept as written, not re-encoded.
    "https://host/p?q=a%20b+c&x=%2F",
    "s3://bucket/path",
    "git@github.com:org/repo.git",
    "databricks",
    "/plain/path/mlruns",
    "/mnt/dvc@remote",
    "",
]


@pytest.mark.parametrize("uri", CLEAN)
def test_uris_without_credentials_are_left_as_they_are(uri):
    assert without_credentials(uri) == uri
    assert mask(uri) == uri


@pytest.mark.parametrize(
    ("uri", "written", "shown"),
    [
        (
            "http://alice:s3cret@mlflow.example.com:5000",
            "http://mlflow.example.com:5000",
            "http://alice:***@mlflow.example.com:5000",
        ),
        (
            "postgresql://mlflow:pa55word@db.example.com:5432/mlflow",
            "postgresql://db.example.com:5432/mlflow",
            "postgresql://mlflow:***@db.example.com:5432/mlflow",
        ),
        # A password holding '@' is hidden entirely (the last '@' ends the user part).
        (
            "https://bob:p@ss@host.example.com/",
            "https://host.example.com/",
            "https://bob:***@host.example.com/",
        ),
        # A bare token as the user is a secret too.
        (
            "https://ghp_abcdef123456@github.com/org/repo.git",
            "https://github.com/org/repo.git",
            "https://***@github.com/org/repo.git",
        ),
        ("ssh://me@host:2222/srv/dvc", "ssh://host:2222/srv/dvc", "ssh://***@host:2222/srv/dvc"),
        # IPv6 hosts, with and without a port.
        ("http://u:pw@[::1]:5000/x", "http://[::1]:5000/x", "http://u:***@[::1]:5000/x"),
        ("http://u:pw@[fe80::1]", "http://[fe80::1]", "http://u:***@[fe80::1]"),
        # Secret query values: token, sig, key, password, secret, credential...
        (
            "https://host.example.com/api?token=abc123&experiment=7",
            "https://host.example.com/api?experiment=7",
            "https://host.example.com/api?token=***&experiment=7",
        ),
        (
            "https://host.example.com/?Access_Token=abc123",
            "https://host.example.com/",
            "https://host.example.com/?Access_Token=***",
        ),
        (
            "https://acct.blob.core.windows.net/c?sv=2022&sig=abc%2Bdef&se=2030",
            "https://acct.blob.core.windows.net/c?sv=2022&se=2030",
            "https://acct.blob.core.windows.net/c?sv=2022&sig=***&se=2030",
        ),
        (
            "https://b.s3.amazonaws.com/o?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ff&a=1",
            "https://b.s3.amazonaws.com/o?a=1",
            "https://b.s3.amazonaws.com/o?X-Amz-Credential=***&X-Amz-Signature=***&a=1",
        ),
        (
            "https://u:p@host/s?api_key=y&password=x&secret=z#part",
            "https://host/s#part",
            "https://u:***@host/s?api_key=***&password=***&secret=***#part",
        ),
        # A percent-encoded secret name is still a secret name.
        ("https://host/?api%5Fkey=v", "https://host/", "https://host/?api%5Fkey=***"),
        # Everything at once, on a loopback port: the tracking URI of the spool test.
        (
            "http://u:pw@127.0.0.1:5000?token=x",
            "http://127.0.0.1:5000",
            "http://u:***@127.0.0.1:5000?token=***",
        ),
    ],
)
def test_credentials_are_removed_for_writing_and_masked_for_showing(uri, written, shown):
    assert without_credentials(uri) == written
    assert mask(uri) == shown
    # Scrubbing twice changes nothing more.
    assert without_credentials(written) == written
    assert mask(shown) == shown


def test_an_unparsable_host_is_scrubbed_all_the_same():
    """An IPv6 host without its closing bracket makes urlsplit fail; the scrubber works on
    the text and still removes the credentials."""
    with pytest.raises(ValueError, match="IPv6"):
        urlsplit("http://u:pw@[::1:5000/x")
    assert without_credentials("http://u:pw@[::1:5000/x?sig=s") == "http://[::1:5000/x"
    assert mask("http://u:pw@[::1:5000/x") == "http://u:***@[::1:5000/x"


@pytest.mark.parametrize(
    ("uri", "base"),
    [
        ("http://u:pw@127.0.0.1:5000/?token=x", "http://127.0.0.1:5000"),
        (
            "https://tok@mlflow.example.com/prefix/#/experiments",
            "https://mlflow.example.com/prefix",
        ),
        ("http://[::1]:5000", "http://[::1]:5000"),
    ],
)
def test_base_url_is_the_server_without_credentials_query_or_fragment(uri, base):
    assert base_url(uri) == base


def test_with_credentials_takes_the_matching_uri_from_the_environment(monkeypatch):
    full = "http://u:pw@127.0.0.1:5000?token=x"
    stored = without_credentials(full)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", full)
    assert with_credentials(stored) == full
    # Another store's credentials are never lent to this one.
    assert with_credentials("http://127.0.0.1:5001") == "http://127.0.0.1:5001"
    # Given URIs come first; without any match the stored URI is used as it is.
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert with_credentials(stored) == stored
    assert with_credentials(stored, ["http://v:other@127.0.0.1:5000"]) == (
        "http://v:other@127.0.0.1:5000"
    )
    monkeypatch.setenv("JUPYTER_MLOPS_TRACKING_URI", full)
    assert with_credentials(stored) == full


def test_scrub_text_masks_urls_and_secret_pairs_in_messages():
    text = (
        "API request to http://u:pw-SECRET@127.0.0.1:5000?token=tok-SECRET/api/2.0 failed; "
        "HTTPConnectionPool(host='127.0.0.1', port=5000): Max retries exceeded with url: "
        "/?token=tok-SECRET/api/2.0/mlflow/runs/create (Caused by ...) sig=abc&region=eu"
    )
    scrubbed = scrub_text(text)
    assert "SECRET" not in scrubbed
    assert "sig=abc" not in scrubbed
    assert "region=eu" in scrubbed
    assert "http://u:***@127.0.0.1:5000" in scrubbed
    assert scrub_text("nothing secret at http://127.0.0.1:5000/x") == (
        "nothing secret at http://127.0.0.1:5000/x"
    )


def test_every_secret_query_name_of_the_list_is_recognised():
    for word in redact.SECRET_QUERY_KEYS:
        assert redact.is_secret_key(word.upper())
        assert without_credentials(f"https://h/?{word}=v&k2=w") in ("https://h/?k2=w", "https://h/")
    assert not redact.is_secret_key("region")


def test_no_other_module_scrubs_urls_itself():
    """One scrubber: no module but ``redact`` takes a URL's user part apart by hand. (An
    ``@`` split of an image digest, ``path@version`` or ``NAME@ALIAS`` is no URL's.)"""
    found = subprocess.run(
        ["git", "grep", "--untracked", "-n", "-E", r"netloc|rsplit\(.@.", "--", "jupyter_mlops"],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, check=False,
    )  # fmt: skip
    offenders = [
        line
        for line in found.stdout.splitlines()
        if "redact.py" not in line
        and ("netloc" in line or re.search(r"ur[il]|location|server|host", line, re.I))
    ]
    assert offenders == []


def test_a_runs_git_remote_is_recorded_without_credentials(tmp_path):
    """The lineage of a run names the git remote with the same scrubber: no password, no
    token in the query."""
    from jupyter_mlops.tracking import capture

    for args in (
        ["init", "--quiet"],
        ["remote", "add", "origin", "https://u:pw@git.example.com/org/repo.git?sig=abc&ref=x"],
        ["-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "--quiet",
         "--allow-empty", "-m", "first"],
    ):  # fmt: skip
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    tags = capture.git_state(str(tmp_path)).tags
    assert tags["mlflow.source.git.repoURL"] == "https://git.example.com/org/repo.git?ref=x"
