"""The e-prop network of :mod:`nirbridge.training.eprop` built and run in NEST 3.10.

The network is NEST's e-prop example wiring: spike generators -> parrot neurons -> hidden
``eprop_iaf*`` -> ``eprop_readout*``, learning-signal connections back, step-rate generators
for the target (and, ``online``, the learning window), every connection one step long. Our step
``t`` (from 1) is input spike time ``t * dt``; the hidden neurons update it in NEST step
``t + 1``, the readout in ``t + 2`` (the bsshslm_2020 readout reports its error one step later).
NEST's parameters come from the rule and layers as docs/eprop.md tabulates.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass
class NestRun:
    """Recorded from NEST, in our step indexing (rows: steps 1..T).

    ``weights``: weight-recorder events as {(projection, post, pre): [(step, weight), ...]},
    projection one of "in", "rec", "out", ``step`` the step the spike arrives in.
    ``final``: the synapses' weights at the end (in, rec, out matrices).
    """

    v: np.ndarray
    psi: np.ndarray
    learning_signal: np.ndarray
    spikes: np.ndarray
    readout: np.ndarray
    error: np.ndarray
    weights: dict
    final: tuple[np.ndarray, np.ndarray, np.ndarray]


def _tau_ms(decay: float, dt_ms: float) -> float:
    return -dt_ms / math.log(decay)


def run_nest(nest, learner, x: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None):
    """Run ``learner``'s network, weights and rule in NEST on one stream ``x`` (T, n_in)
    (``online``) or on consecutive trials ``x`` (I, B, n_in) (``bsshslm_2020``)."""
    s = learner.setup
    rule = learner.rule
    online = s.online
    dt_ms = s.dt_ms
    if not online:
        steps_i = x.shape[0]
        x = x.transpose(1, 0, 2).reshape(-1, x.shape[2])
        target = target.transpose(1, 0, 2).reshape(-1, target.shape[2])
        assert steps_i == s.interval
    T, n_in = x.shape
    w_in = learner.w_in.detach().cpu().numpy().astype(np.float64)
    w_rec = learner.w_rec.detach().cpu().numpy().astype(np.float64)
    w_out = learner.w_out.detach().cpu().numpy().astype(np.float64)
    fb = learner.feedback.detach().cpu().numpy().astype(np.float64)
    n_hid, n_out = w_in.shape[0], w_out.shape[0]

    nest.ResetKernel()
    kernel = {"resolution": dt_ms, "total_num_virtual_procs": 1, "print_time": False}
    if not online:
        kernel.update(
            eprop_update_interval=s.interval * dt_ms,
            eprop_learning_window=s.window * dt_ms,
            eprop_reset_neurons_on_update=s.reset_on_update,
        )
    nest.set(**kernel)
    suffix = "" if online else "_bsshslm_2020"
    hid_model = ("eprop_iaf_adapt" if s.alif else "eprop_iaf") + suffix
    sur = s.surrogate
    p_hid = {
        "C_m": 1.0,
        "E_L": 0.0,
        "V_m": 0.0,
        "I_e": 0.0,
        "t_ref": 0.0,
        "tau_m": _tau_ms(s.decay, dt_ms),
        "V_th": s.threshold,
        "surrogate_gradient_function": sur.function,
        "surrogate_gradient_height": sur.height,
        "surrogate_gradient_width": sur.width,
        "c_reg": s.c_reg,
        "f_target": rule.f_target,
    }
    p_out = {"C_m": 1.0, "E_L": 0.0, "V_m": 0.0, "I_e": 0.0, "tau_m": _tau_ms(s.decay_out, dt_ms)}
    if online:
        p_hid.update(kappa=s.kappa, kappa_reg=s.kappa_reg)
        if s.cutoff is not None:
            p_hid["eprop_isi_trace_cutoff"] = s.cutoff * dt_ms
            p_out["eprop_isi_trace_cutoff"] = s.cutoff * dt_ms
    else:
        p_out["loss"] = "cross_entropy" if s.cross_entropy else "mean_squared_error"
    if s.alif:
        p_hid.update(adapt_beta=s.adapt_beta, adapt_tau=learner.hidden.adapt_tau * 1000.0)
    gens = nest.Create("spike_generator", n_in)
    parrots = nest.Create("parrot_neuron", n_in)
    hid = nest.Create(hid_model, n_hid, p_hid)
    out = nest.Create("eprop_readout" + suffix, n_out, p_out)
    tgt = nest.Create("step_rate_generator", n_out)

    opt = rule.optimizer
    o = {
        "type": "adam" if opt.name == "adam" else "gradient_descent",
        "eta": opt.learning_rate,
        "batch_size": opt.batch_size,
        "Wmin": -100.0 if opt.w_min is None else opt.w_min,
        "Wmax": 100.0 if opt.w_max is None else opt.w_max,
    }
    if opt.name == "adam":
        o.update(beta_1=opt.beta_1, beta_2=opt.beta_2, epsilon=opt.epsilon)
    syn_model = "eprop_synapse" + suffix
    wr = nest.Create("weight_recorder")
    defaults = {"optimizer": o, "weight_recorder": wr}
    if online:
        o["optimize_each_step"] = s.optimize_each_step
    else:
        defaults.update(average_gradient=s.average_gradient, tau_m_readout=_tau_ms(s.kappa, dt_ms))
    nest.SetDefaults(syn_model, defaults)

    one = {"rule": "one_to_one"}
    all_ = {"rule": "all_to_all", "allow_autapses": False}
    static = {"synapse_model": "static_synapse", "delay": dt_ms}
    syn = {"synapse_model": syn_model, "delay": dt_ms}
    nest.Connect(gens, parrots, one, static)
    nest.Connect(parrots, hid, {"rule": "all_to_all"}, {**syn, "weight": w_in})
    if learner.has_recurrence:
        nest.Connect(hid, hid, all_, {**syn, "weight": w_rec})
    nest.Connect(hid, out, {"rule": "all_to_all"}, {**syn, "weight": w_out})
    nest.Connect(
        out,
        hid,
        {"rule": "all_to_all"},
        {
            "synapse_model": "eprop_learning_signal_connection" + suffix,
            "delay": dt_ms,
            "weight": fb,
        },
    )
    rate = {"synapse_model": "rate_connection_delayed", "delay": dt_ms}
    nest.Connect(tgt, out, one, {**rate, "receptor_type": 2})
    if not online and s.cross_entropy:
        nest.Connect(out, out, all_, {**rate, "receptor_type": 1, "weight": 1.0})

    steps = np.arange(1, T + 1)
    gens.set([{"spike_times": (steps[x[:, i] != 0] * dt_ms).tolist()} for i in range(n_in)])
    lag = 2 if online else 3  # the readout takes target[t] in its step t + lag
    tgt.set(
        [
            {
                "amplitude_times": ((steps + lag) * dt_ms).tolist(),
                "amplitude_values": target[:, k].tolist(),
            }
            for k in range(n_out)
        ]
    )
    if online:
        window = nest.Create("step_rate_generator")
        m = np.ones(T) if mask is None else np.asarray(mask, dtype=np.float64)
        window.set(amplitude_times=((steps + 2) * dt_ms).tolist(), amplitude_values=m.tolist())
        nest.Connect(window, out, {"rule": "all_to_all"}, {**rate, "receptor_type": 1})

    mm_hid = nest.Create(
        "multimeter",
        {"interval": dt_ms, "record_from": ["V_m", "surrogate_gradient", "learning_signal"]},
    )
    mm_out = nest.Create("multimeter", {"interval": dt_ms, "record_from": ["V_m", "error_signal"]})
    sr = nest.Create("spike_recorder")
    nest.Connect(mm_hid, hid)
    nest.Connect(mm_out, out)
    nest.Connect(hid, sr)
    nest.Simulate((T + 4) * dt_ms)

    def table(events, key, ids, shift):
        times = np.rint(events["times"] / dt_ms).astype(int) - shift
        out_ = np.full((T, len(ids)), np.nan)
        col = {nid: j for j, nid in enumerate(ids)}
        for tm, snd, val in zip(times, events["senders"], events[key], strict=True):
            if 1 <= tm <= T:
                out_[tm - 1, col[snd]] = val
        return out_

    hid_ids, out_ids = hid.tolist(), out.tolist()
    eh, eo = mm_hid.get("events"), mm_out.get("events")
    spikes = np.zeros((T, n_hid))
    ev = sr.get("events")
    for tm, snd in zip(np.rint(ev["times"] / dt_ms).astype(int), ev["senders"], strict=True):
        t = tm - 2  # spike stamp = hidden step + 1 = t + 2
        if 1 <= t <= T:
            spikes[t - 1, hid_ids.index(snd)] = 1.0
    err_shift = 3 if online else 4
    index = {}
    for name, pop in (("in", parrots), ("hid", hid), ("out", out)):
        for j, nid in enumerate(pop.tolist()):
            index[nid] = (name, j)
    weights: dict = {}
    ew = wr.get("events")
    for tm, snd, tgt_id, w in zip(
        ew["times"], ew["senders"], ew["targets"], ew["weights"], strict=True
    ):
        (src_pop, i), (dst_pop, j) = index[snd], index[tgt_id]
        proj = "in" if src_pop == "in" else ("rec" if dst_pop == "hid" else "out")
        arrival = int(round(tm / dt_ms)) - (1 if dst_pop == "hid" else 2)
        if 1 <= arrival <= T:
            weights.setdefault((proj, j, i), []).append((arrival, w))

    def final(src, dst, shape):
        mat = np.zeros(shape)
        conns = nest.GetConnections(src, dst)
        if len(conns) == 0:
            return mat
        st = conns.get(["source", "target", "weight"])
        s_ids, d_ids = src.tolist(), dst.tolist()
        for a, b, w in zip(st["source"], st["target"], st["weight"], strict=True):
            mat[d_ids.index(b), s_ids.index(a)] = w
        return mat

    return NestRun(
        v=table(eh, "V_m", hid_ids, 2),
        psi=table(eh, "surrogate_gradient", hid_ids, 2),
        learning_signal=table(eh, "learning_signal", hid_ids, 4),
        spikes=spikes,
        readout=table(eo, "V_m", out_ids, 3),
        error=table(eo, "error_signal", out_ids, err_shift),
        weights=weights,
        final=(
            final(parrots, hid, (n_hid, n_in)),
            final(hid, hid, (n_hid, n_hid)),
            final(hid, out, (n_out, n_hid)),
        ),
    )
