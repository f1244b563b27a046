"""Experiments: the server's reading of the MLflow tracking store.

``service.py`` holds :class:`~jupyter_mlops.experiments.service.TrackingService`, which the
other slices use to reach the store (is it there, its experiments, an MLflow client);
``handlers.py`` the experiments route, ``models.py`` its models. Not to be confused with
:mod:`jupyter_mlops.tracking`, the kernel side that records runs from notebook cells, or
:mod:`jupyter_mlops.mlflow_store`, which opens a store for all of them.
"""
