"""Export to pipeline: turn a notebook with tagged cells into a production job.

The foundation is :mod:`.parameters`: the one typed parameter schema, inferred from the cell
tagged ``parameters`` (papermill's tag), that every entry point validates against before a
kernel starts and that every export target (CLI flags, Kubernetes args, Argo/KFP inputs,
Airflow Params) is generated from.
"""
