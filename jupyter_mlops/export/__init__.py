"""Export to pipeline: turn a notebook with tagged cells into a production job.

- :mod:`.parameters`: the one typed parameter schema, inferred from the cell tagged
  ``parameters`` (papermill's tag), that every entry point validates against before a kernel
  starts and that every export target is generated from;
- :mod:`.notebook`: reading and cleaning the notebook (``skip-export`` cells, outputs,
  ``%pip install`` lines) and finding what its code imports and opens;
- :mod:`.requirements`: dependencies pinned from the environment of the notebook's kernel;
- :mod:`.exporter`: ``export_notebook``, which writes the job folder;
- :mod:`.targets`: the plugin interface of export targets (entry-point group
  ``jupyter_mlops.exporters``); :mod:`.docker` is the built-in Docker image target;
- :mod:`.job`: the one job entrypoint (``python -m jupyter_mlops.job``).
"""
