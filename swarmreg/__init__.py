"""swarmreg: back-propagation and particle swarm optimization, side by side,
training the same network under L2 / L1 regularization."""

from .model import MLP
from .objective import L1, L2, ElasticNet, RegularizedError

__all__ = ["MLP", "RegularizedError", "L1", "L2", "ElasticNet"]
__version__ = "0.1.0"
