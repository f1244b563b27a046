"""Jobs: export a notebook to a job folder, build its image, run it and follow its runs.

The slice's routes are in ``handlers.py``, its request and response models in
``models.py``, its logic in ``service.py`` (with ``export_check.py``, the full check of an
export request, and ``process.py``, the process that watches one job run). The export
itself (targets, the job folder, the job entrypoint) is :mod:`jupyter_mlops.export`.
"""
