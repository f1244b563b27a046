"""``python -m jupyter_mlops.openapi``: print the server's OpenAPI document (the one
``GET /jupyter-mlops/openapi.json`` answers), generated from the route table
(:mod:`jupyter_mlops.routes`) by :mod:`jupyter_mlops.api.openapi`. ``jlpm api:types``
makes the frontend's TypeScript types from this output."""

from __future__ import annotations

import json

from .api.openapi import build_openapi
from .routes import ROUTES


def main() -> None:
    print(json.dumps(build_openapi(ROUTES), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
