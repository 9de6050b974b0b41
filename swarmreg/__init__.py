"""swarmreg: back-propagation and particle swarm optimization, side by side,
training the same network under L2 / L1 regularization.

Each trainer can be imported on its own (``from swarmreg.swarm import
SwarmTrainer``); this package re-exports the shared pieces and all three.
"""

from .backprop import BackpropTrainer
from .model import MLP
from .objective import L1, L2, ElasticNet, RegularizedError
from .reference import LBFGSTrainer
from .result import TrainResult
from .swarm import SwarmTrainer

__all__ = ["MLP", "RegularizedError", "L1", "L2", "ElasticNet", "TrainResult",
           "BackpropTrainer", "SwarmTrainer", "LBFGSTrainer"]
__version__ = "0.1.0"
