"""Experiment tracking from notebook cells and scripts: journal first, deliver in the
background, never lose a run. See ``tracker.py`` for the life of a run."""
