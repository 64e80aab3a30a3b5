"""The search space's mechanics on tiny inputs: mixed-op weights, the latency term's gradient,
discretisation by argmax, export and load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from drqa_ng.errors import IndexFormatError, NotFoundError
from drqa_ng.video.nas import (
    OPS,
    UNITS_PER_STAGE,
    Arch,
    LatencyTable,
    MixedOp,
    SearchedTagger,
    SuperNet,
    arch_latency,
    discretise,
    expected_latency,
    load_searched,
    save_searched,
    stage_widths,
    unit_ops,
)


def _table() -> LatencyTable:
    """A synthetic table: every op costs its kernel size times the output width index + 1 (ms)."""
    down, keep = {}, {}
    for s in range(3):
        n_in = 1 if s == 0 else 3
        down[s] = {op: [[float(op[3]) * (b + 1) for b in range(3)] for _ in range(n_in)] for op in OPS[1:]}
        keep[s] = {op: [float(op[3]) * (b + 1) for b in range(3)] for op in OPS[1:]}
    return LatencyTable(1.0, down, keep, 4, 1)


def test_mixed_op_is_the_weighted_sum_of_its_ops() -> None:
    torch.manual_seed(0)
    m = MixedOp(["skip", "g2k3", "g3k5"], 24, 24, 1, first=False).eval()
    x = torch.rand(2, 24, 6, 6)
    w = torch.tensor([0.2, 0.5, 0.3])
    want = 0.2 * x + 0.5 * m.ops[1](x) + 0.3 * m.ops[2](x)
    assert torch.allclose(m(x, w), want, atol=1e-6)
    one_hot = torch.tensor([0.0, 1.0, 0.0])
    assert torch.allclose(m(x, one_hot), m.ops[1](x), atol=1e-6)


def test_latency_term_has_gradients_that_prefer_cheap_ops_and_narrow_widths() -> None:
    net = SuperNet(input_size=32)
    lat = expected_latency(net, _table())
    lat.backward()
    for i, names in enumerate(net.unit_names):
        g = net.alpha[i].grad
        assert g is not None and torch.count_nonzero(g) > 0
        if "skip" in names:  # skip costs nothing: raising its weight lowers E[lat]
            assert g[names.index("skip")] < 0
        assert g[names.index("g2k5")] > g[names.index("g2k3")]  # kernel 5 costs more than 3 here
    for b in net.beta:
        assert b.grad is not None and b.grad[0] < b.grad[-1]  # the narrow width is cheaper


def test_expected_latency_equals_the_table_latency_of_a_one_hot_net() -> None:
    net = SuperNet(input_size=32)
    arch = Arch(
        ("g2k3", "skip", "g3k5", "g3k3", "g2k5", "skip", "g2k5", "g3k3", "skip"), (72, 96, 384), input_size=32
    )
    with torch.no_grad():
        for i, op in enumerate(arch.ops):
            net.alpha[i].fill_(-50.0)
            net.alpha[i][net.unit_names[i].index(op)] = 50.0
        for s, w in enumerate(arch.widths):
            net.beta[s].fill_(-50.0)
            net.beta[s][stage_widths(s).index(w)] = 50.0
    table = _table()
    assert float(expected_latency(net, table).detach()) == pytest.approx(arch_latency(arch, table), rel=1e-5)
    assert discretise(net) == arch


def test_discretise_picks_the_argmax_per_unit_and_stage() -> None:
    net = SuperNet(input_size=32)
    with torch.no_grad():
        for i in range(len(net.alpha)):
            net.alpha[i].zero_()
            net.alpha[i][-1] = 1.0  # last op everywhere: g3k5
        for s in range(3):
            net.beta[s].zero_()
            net.beta[s][s % 3] = 2.0
    arch = discretise(net)
    assert arch.ops == ("g3k5",) * (3 * UNITS_PER_STAGE)
    assert arch.widths == tuple(stage_widths(s)[s % 3] for s in range(3))
    assert all(op in unit_ops(u % UNITS_PER_STAGE) for u, op in enumerate(arch.ops))


def test_supernet_forward_and_searched_net_shapes() -> None:
    net = SuperNet(input_size=32)
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 3)
    arch = discretise(net)
    assert SearchedTagger(arch)(torch.rand(2, 3, 32, 32)).shape == (2, 3)


def test_export_loads_back_the_same_net(tmp_path: Path) -> None:
    arch = Arch(("g2k3", "skip", "skip", "g3k3", "g2k5", "skip", "g2k5", "skip", "g3k3"), (48, 144, 288))
    torch.manual_seed(0)
    model = SearchedTagger(arch).eval()
    save_searched(model, tmp_path / "t.safetensors")
    back = load_searched(tmp_path / "t.safetensors")
    assert back.arch == arch
    x = torch.rand(3, 3, 48, 48)
    with torch.inference_mode():
        assert torch.allclose(model(x), back(x))
    with pytest.raises(NotFoundError):
        load_searched(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(IndexFormatError):
        load_searched(tmp_path / "bad.safetensors")


def test_latency_table_round_trips_through_json() -> None:
    t = _table()
    assert LatencyTable.from_dict(t.to_dict()) == t


def test_load_any_tagger_reads_both_kinds_and_tag_probs_runs_on_either(tmp_path: Path) -> None:
    import numpy as np

    from drqa_ng.video.tagger import TinyTagger, save_tagger, tag_probs
    from drqa_ng.video.taggers import load_any_tagger

    arch = Arch(("g2k3", "skip", "skip", "g3k3", "skip", "skip", "g2k5", "skip", "skip"), (48, 96, 192))
    save_searched(SearchedTagger(arch), tmp_path / "s.safetensors")
    save_tagger(TinyTagger(), tmp_path / "h.safetensors")
    searched, hand = load_any_tagger(tmp_path / "s.safetensors"), load_any_tagger(tmp_path / "h.safetensors")
    assert isinstance(searched, SearchedTagger) and isinstance(hand, TinyTagger)
    frames = [np.zeros((40, 60, 3), dtype=np.uint8)] * 2
    for m in (searched, hand):
        p = tag_probs(m, frames)
        assert p.shape == (2, 3) and ((p >= 0) & (p <= 1)).all()
    with pytest.raises(NotFoundError):
        load_any_tagger(tmp_path / "none.safetensors")
