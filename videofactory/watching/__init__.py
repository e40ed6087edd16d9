"""Watching a run: what a run looks like while it goes, in one place.

``state.py`` folds events into a ``RunWatch`` (lanes per GPU, tasks, VRAM: pure data);
``live.py`` draws it with rich (the live view of ``generate``/``resume``/``wait``) and formats the
one-line log; ``follow.py`` reads a run that another process drives, from its store and events
file (``wait``, ``logs --follow``, ``status``).
"""
