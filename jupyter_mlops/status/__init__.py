"""Status: the report at the top of the panel (versions, tracking store, project, container
engine). ``handlers.py`` holds the route, ``models.py`` its response, ``service.py`` the
report (with ``project.py``, git and DVC facts of the project folder, and
``containers.py``, whether a container engine answers)."""
