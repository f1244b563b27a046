"""Runs: the runs in the MLflow tracking store as the panel reads and changes them.

``handlers.py`` holds the routes (``ROUTES``), ``models.py`` their request and response
models, ``service.py`` the logic (``pages.py`` reads a page of runs straight from the
embedded SQLite store, ``artifacts.py`` lists and opens a run's files). Recording runs from
notebook cells is the kernel side's job: :mod:`jupyter_mlops.tracking`.
"""
