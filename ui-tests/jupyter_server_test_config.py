"""Server configuration for the Galata tests.

Galata's defaults (no token, a temporary root) plus what CI needs: running as root, and a
demo-like project so that the panel has a real store to show.
"""

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 - `c` is injected by Jupyter's config loader
c.ServerApp.allow_root = True  # noqa: F821
c.LabApp.expose_app_in_browser = True  # noqa: F821
