"""Random draws (PyTensor's `pytensor.tensor.random`): `RandomStream`, the draw functions,
and the ops and types behind them.

>>> import numpy as np, kiln
>>> from kiln.tensor.random import RandomStream
>>> srng = RandomStream(seed=0)
>>> f = kiln.function([], srng.uniform(size=(2,)))
>>> f().shape
(2,)
"""
from kiln.tensor.random.type import (RandomGeneratorConstant, RandomGeneratorSharedVariable,  # noqa: F401
                                     RandomGeneratorType, copy_generator, random_generator_type,
                                     shared_generator)
from kiln.tensor.random.op import RandomVariable  # noqa: F401
from kiln.tensor.random.basic import (REPARAMETERIZABLE, BernoulliRV, BetaRV, BinomialRV, ChoiceRV,  # noqa: F401
                                      DirichletRV, GammaRV, IntegersRV, MvNormalRV, NormalRV, PermutationRV,
                                      PoissonRV, UniformRV, bernoulli, beta, binomial, choice, dirichlet, gamma,
                                      integers, multivariate_normal, normal, permutation, poisson, uniform)
from kiln.tensor.random.more import *  # noqa: F401,F403  (the table-driven distributions)
from kiln.tensor.random.stream import RandomStream  # noqa: F401

RandomStreams = RandomStream  # Theano's name
