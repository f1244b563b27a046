"""Deployments: an exported job put onto an orchestrator (an engine: Airflow first), its
record in the project's state, and its runs followed there (``jupyter mlops deploy``,
``trigger``, ``deployments``, ``runs``; the routes under ``deployments``)."""
