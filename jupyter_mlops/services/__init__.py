"""Services hold jupyter-mlops' logic. They know nothing of tornado or HTTP: they take
resolved :class:`~jupyter_mlops.settings.Settings`, return models, and raise
:class:`~jupyter_mlops.errors.MlopsError` for anything a user can cause. They block, so the
server calls them off its event loop."""
