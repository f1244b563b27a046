"""Lineage: one graph of where a run, a model version or a job's output came from and what
came of it (data versions, commit, notebook, runs, model versions, jobs, images,
deployments, job runs, output notebooks), built from what the other slices recorded.

``handlers.py`` holds the route (``GET lineage``), ``models.py`` its query and graph,
``service.py`` the logic.
"""
