"""PyTensor's import path for RandomStream (`pytensor.tensor.random.utils.RandomStream`)."""
from kiln.tensor.random.stream import RandomStream

__all__ = ["RandomStream"]
