"""NEST's e-prop weight optimizers (``weight_optimizer.cpp`` of NEST 3.10), vectorized.

NEST gives every e-prop synapse its own optimizer object. The synapse calls
``optimized_weight(idx, gradient, weight)`` with an index ``idx`` that counts time steps (the
``online`` variant) or update intervals (``bsshslm_2020``), and the optimizer

1. adds ``gradient`` to a running sum ``cumulative_gradient``;
2. computes ``current = 1 + idx // batch_size``; when its step counter (which starts at 1) is
   below ``current`` it divides the sum by ``batch_size`` and steps: gradient descent
   ``w -= eta * sum`` once; Adam once per missed step, the first with the sum and the others
   with a zero gradient (their moments decay, the bias corrections advance and the weight keeps
   moving); then clips ``w`` to ``[Wmin, Wmax]`` and sets the counter to ``current``.

So Adam's first step already counts ``idx // batch_size`` steps: its bias correction is that of
a late step, not of the first. (NEST's ``eta`` is taken as constant: NEST uses the first value
set for the first step and the current one afterwards.)

Every synapse leaving one presynaptic neuron is called with the same ``idx`` sequence, so the
counter and Adam's powers of ``beta_1`` and ``beta_2`` live per column (presynaptic neuron) here;
the sum and Adam's moments live per synapse.
"""

from __future__ import annotations

import torch

from ...learning import Optimizer

#: NEST's weight bounds when the rule leaves ``w_min`` / ``w_max`` unset.
NEST_W_MIN, NEST_W_MAX = -100.0, 100.0


class NestOptimizer:
    """The optimizers of one weight matrix ``(n_post, n_pre)``, updated in place.

    Args:
        spec: The rule's optimizer (``sgd`` is NEST's ``gradient_descent``; ``momentum`` and
            ``weight_decay`` are checked unset by the caller).
        weight: The weights it updates, in place.
        frozen: Boolean mask of entries that are no synapse (autapses): their gradient is
            taken as zero, so they never change.
    """

    def __init__(self, spec: Optimizer, weight: torch.Tensor, frozen: torch.Tensor | None = None):
        self.adam = spec.name == "adam"
        self.eta = float(spec.learning_rate)
        self.batch = int(spec.batch_size)
        self.beta_1 = float(spec.beta_1 or 0.0)
        self.beta_2 = float(spec.beta_2 or 0.0)
        self.epsilon = float(spec.epsilon or 0.0)
        self.w_min = NEST_W_MIN if spec.w_min is None else float(spec.w_min)
        self.w_max = NEST_W_MAX if spec.w_max is None else float(spec.w_max)
        self.weight = weight
        self.frozen = frozen
        n_pre = weight.shape[1]
        dev = weight.device
        self.step = torch.ones(n_pre, dtype=torch.long, device=dev)
        self.cumulative = torch.zeros_like(weight)
        if self.adam:
            self.m = torch.zeros_like(weight)
            self.v = torch.zeros_like(weight)
            # Adam steps taken per column: NEST's beta powers are 1 times beta that many times
            self.count = torch.zeros(n_pre, dtype=torch.long, device=dev)
            self._powers = (weight.new_ones(1), weight.new_ones(1))
            # columns whose moments may be nonzero (once nonzero, they never return to zero)
            self.moving = torch.zeros(n_pre, dtype=torch.bool, device=dev)

    def call(self, columns: torch.Tensor, idx: int, gradient: torch.Tensor) -> None:
        """``optimized_weight(idx, gradient[:, i], w[:, i])`` for every column ``i`` in
        ``columns`` (a boolean mask over presynaptic neurons)."""
        if not bool(columns.any()):
            return
        col = columns[None, :]
        if self.frozen is not None:
            col = col & ~self.frozen
        self.cumulative += torch.where(col, gradient, 0.0)
        current = 1 + idx // self.batch
        due = columns & (self.step < current)
        if not bool(due.any()):
            return
        total = self.cumulative / self.batch
        w = self.weight
        if self.adam:
            new = self._adam(due, total, current - self.step)
        else:
            new = w - self.eta * total
        new = new.clamp(self.w_min, self.w_max)
        if bool(due.all()):
            w.copy_(new)
            self.cumulative.zero_()
        else:
            w.copy_(torch.where(due[None, :], new, w))
            self.cumulative = torch.where(due[None, :], 0.0, self.cumulative)
        self.step = torch.where(due, current, self.step)

    def _power_tables(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``beta**k`` for k = 0..n, each the product of its predecessor and beta (NEST's)."""
        have = self._powers[0].shape[0]
        if have <= n:
            grown = []
            for table, beta in zip(self._powers, (self.beta_1, self.beta_2), strict=True):
                values = table.tolist()
                p = values[-1]
                for _ in range(max(n + 1, 2 * have) - have):
                    p *= beta
                    values.append(p)
                grown.append(torch.tensor(values, dtype=table.dtype, device=table.device))
            self._powers = (grown[0], grown[1])
        return self._powers

    def _adam(self, due: torch.Tensor, total: torch.Tensor, missed: torch.Tensor) -> torch.Tensor:
        """Adam over the ``missed`` steps of each due column: the first with ``total``, the
        others with a zero gradient (NEST's loop in ``WeightOptimizerAdam::optimize_``).
        Columns whose moments and gradient are all zero only advance their step count."""
        count = torch.where(due, self.count + missed, self.count)
        powers = self._power_tables(int(count.max()))
        self.moving |= due & (total != 0).any(0)
        moving = due & self.moving
        w = self.weight
        if not bool(moving.any()):
            self.count = count
            return w
        # the step with the gradient, for every moving column
        m, v, step = self._step(self.m, self.v, total, self.count + 1, powers)
        if bool(moving.all()):
            self.m, self.v, w = m, v, w - step
        else:
            cols = moving[None, :]
            self.m = torch.where(cols, m, self.m)
            self.v = torch.where(cols, v, self.v)
            w = torch.where(cols, w - step, w)
        # the zero-gradient steps of the columns that missed more than one, on those alone
        extra = (moving & (missed > 1)).nonzero().squeeze(1)
        if extra.numel():
            m, v, w_e = self.m[:, extra], self.v[:, extra], w[:, extra]
            left, n = missed[extra], self.count[extra]
            zero = torch.zeros_like(m)
            for k in range(1, int(left.max())):
                act = (left > k)[None, :]
                m2, v2, step = self._step(m, v, zero, n + k + 1, powers)
                m, v = torch.where(act, m2, m), torch.where(act, v2, v)
                w_e = torch.where(act, w_e - step, w_e)
            self.m[:, extra], self.v[:, extra] = m, v
            w = w.clone() if w is self.weight else w
            w[:, extra] = w_e
        self.count = count
        return w

    def _step(self, m, v, gradient, n, powers):
        """One Adam step of NEST's (its moments, and the weight change) at step number n."""
        beta_1_power, beta_2_power = powers
        n = n.clamp(max=beta_1_power.shape[0] - 1)
        alpha = self.eta * torch.sqrt(1.0 - beta_2_power[n]) / (1.0 - beta_1_power[n])
        m = self.beta_1 * m + (1.0 - self.beta_1) * gradient
        v = self.beta_2 * v + (1.0 - self.beta_2) * gradient * gradient
        return m, v, alpha[None, :] * m / (torch.sqrt(v) + self.epsilon)
