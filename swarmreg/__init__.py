"""swarmreg: back-propagation and particle swarm optimization, side by side,
training the same network under L2 / L1 regularization.

Each trainer can be imported on its own (``from swarmreg.swarm import
SwarmTrainer``); this package re-exports the shared pieces and every trainer,
imported when first used (so that ``swarmreg --help`` and Ctrl-C at start-up
do not wait for numpy and scipy).
"""

import importlib

__all__ = ["MLP", "RegularizedError", "L1", "L2", "ElasticNet", "WeightElimination", "TrainResult",
           "BackpropTrainer", "SwarmTrainer", "CMAESTrainer", "LBFGSTrainer"]
__version__ = "0.1.0"

_HOMES = {"MLP": "model", "RegularizedError": "objective", "L1": "penalties", "L2": "penalties",
          "ElasticNet": "penalties", "WeightElimination": "penalties", "TrainResult": "result",
          "BackpropTrainer": "backprop", "SwarmTrainer": "swarm", "CMAESTrainer": "cmaes", "LBFGSTrainer": "reference"}


def __getattr__(name):
    if name in _HOMES:
        value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'swarmreg' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
