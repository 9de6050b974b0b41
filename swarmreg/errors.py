"""The errors a sweep raises when it cannot go on (not a user's mistake: those are ValueErrors).

They live apart, with no imports, so that the command line can catch them
before numpy and the trainers are loaded.
"""

__all__ = ["WorkerLost", "ExecutorLost"]


class WorkerLost(RuntimeError):
    """A run killed its worker process more times than it is run again."""


class ExecutorLost(RuntimeError):
    """The executor itself went away (a Dask scheduler died or became unreachable)."""
