"""The one lifecycle of long work: snapshots, restores, pushes, pulls, builds and job runs.

A piece of long work is a task (:mod:`.models`: id, kind, state, progress, the user's
request, result or error, start and end times) run by the :class:`~.registry.TaskRegistry`
off the server's event loop, cancelled through its :class:`~.progress.Progress`, and
recorded under ``<state>/tasks/`` so that a restarted server still lists it (one that was
running when its server died ends ``interrupted``). ``GET /jupyter-mlops/tasks`` lists
them (:mod:`.handlers`); a slice that starts a kind of task may also answer it in its own
shape (``data/tasks/{task_id}``).
"""
