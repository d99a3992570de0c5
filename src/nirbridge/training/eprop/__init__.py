"""e-prop (Bellec et al. 2020) in PyTorch, computed as NEST 3.10 computes it.

Both variants of the schema's :class:`~nirbridge.learning.EProp`: ``online`` (NEST's
``eprop_iaf``, ``eprop_iaf_adapt``, ``eprop_readout``, ``eprop_synapse``) and ``bsshslm_2020``
(NEST's ``*_bsshslm_2020`` models), for an input -> recurrent LIF/ALIF -> leaky-integrator
readout network whose step is :mod:`nirbridge.training._layers`' (SEMANTICS.md's euler step).
Given the same weights, inputs and rule, the weights after training equal NEST's to float64
round-off (docs/eprop.md states the measured agreement and the order of operations).

- :class:`EPropLearner`: ``train_batch(x, target) -> loss`` updates the weights in place, as
  NEST does during the same simulation; ``to_nir()`` exports the network with its rule.
- :func:`eprop_gradients`: the gradients for fixed weights (for tests and analysis).
"""

from ._learner import EPropLearner, EPropResult, eprop_gradients
from ._nir import NAMES

__all__ = ["EPropLearner", "EPropResult", "NAMES", "eprop_gradients"]
