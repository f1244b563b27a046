"""The API base that every slice's routes stand on: the base handler and its error mapping
(``handler.py``), the models every slice shares (``models.py``) and the OpenAPI generator
(``openapi.py``). Services never import it."""
