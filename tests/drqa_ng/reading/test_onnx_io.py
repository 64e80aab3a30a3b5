from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import IndexFormatError, UnsupportedError
from drqa_ng.index_io import read_manifest
from drqa_ng.reading.onnx_io import ONNX_KIND, PART_BYTES
from drqa_ng.reading.reader import load_reader
from drqa_ng.types import Passage

TEXT = "The Amazon rainforest covers much of the Amazon basin of South America, about 5,500,000 km2."
Q = "How large is the Amazon rainforest?"


def _passage() -> Passage:
    return Passage(id="a#p0", doc_id="a", title="Amazon", text=TEXT, start=0, end=len(TEXT))


def test_onnx_folder_has_parts_with_hashes(tiny_onnx_dir: Path) -> None:
    m = read_manifest(tiny_onnx_dir, ONNX_KIND)
    assert m["precision"] == "int8"
    assert m["max_length"] == 64 and m["stride"] == 16
    assert all(p["bytes"] <= PART_BYTES for p in m["parts"])
    assert sum(p["bytes"] for p in m["parts"]) == m["model_bytes"]
    assert (tiny_onnx_dir / "tokenizer.json").is_file()


def test_fp32_onnx_matches_torch_and_int8_is_close(tiny_model_dir: Path, tiny_onnx_dir: Path) -> None:
    torch_r = load_reader(tiny_model_dir)
    fp32_r = load_reader(tiny_onnx_dir.parent / "fp32")
    int8_r = load_reader(tiny_onnx_dir, backend="onnx")
    assert (fp32_r.backend, int8_r.backend) == ("onnx", "onnx")
    w = __import__("drqa_ng.reading.features", fromlist=["make_windows"]).make_windows(
        torch_r.tokenizer, [Q], [TEXT], 64, 16
    )
    ts, te = torch_r.logits_fn(w)
    fs, fe = fp32_r.logits_fn(w)
    qs, _ = int8_r.logits_fn(w)
    np.testing.assert_allclose(fs, ts, atol=1e-4)
    np.testing.assert_allclose(fe, te, atol=1e-4)
    assert np.corrcoef(qs.ravel(), ts.ravel())[0, 1] > 0.9
    a_t = torch_r.read([Q], [[_passage()]])[0][0]
    a_f = fp32_r.read([Q], [[_passage()]])[0][0]
    assert (a_t.start, a_t.end) == (a_f.start, a_f.end)


def test_corrupt_part_is_rejected(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(tiny_onnx_dir, bad)
    part = bad / "model.onnx.part0"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match="corrupt"):
        load_reader(bad)


def test_missing_part_mismatched_tokenizer_and_wrong_backend(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    shutil.copytree(tiny_onnx_dir, gone)
    (gone / "model.onnx.part0").unlink()
    with pytest.raises(IndexFormatError, match="missing"):
        load_reader(gone)
    tok = tmp_path / "tok"
    shutil.copytree(tiny_onnx_dir, tok)
    (tok / "tokenizer.json").write_text(json.dumps({"not": "the tokenizer"}))
    with pytest.raises(IndexFormatError, match=r"tokenizer\.json"):
        load_reader(tok)
    with pytest.raises(UnsupportedError):
        load_reader(tiny_onnx_dir, backend="torch")


def test_onnx_answers_do_not_depend_on_padding_or_batch(tiny_onnx_dir: Path) -> None:
    texts = [TEXT, "Short passage about rain.", TEXT + " " + TEXT]
    qs = [Q, "What about rain?", "Where is the basin?"]
    ps = [
        [Passage(id=f"d{i}", doc_id=f"d{i}", title="", text=t, start=0, end=len(t))]
        for i, t in enumerate(texts)
    ]
    fp32 = tiny_onnx_dir.parent / "fp32"
    big = load_reader(fp32, batch_size=8).read(qs, ps, top_n=2)
    one = load_reader(fp32, batch_size=1)
    for i in range(3):
        alone = one.read([qs[i]], [ps[i]], top_n=2)[0]
        assert [(a.start, a.end) for a in alone] == [(a.start, a.end) for a in big[i]]
        assert [a.score for a in alone] == pytest.approx([a.score for a in big[i]], abs=1e-4)


def test_model_from_onnx_recovers_fp32_weights_exactly_and_int8_closely(
    tiny_model_dir: Path, tiny_onnx_dir: Path
) -> None:
    from drqa_ng.reading.model import load_model
    from drqa_ng.reading.onnx_io import model_from_onnx

    want = {k: v.numpy() for k, v in load_model(tiny_model_dir).state_dict().items()}
    fp32 = {
        k: v.numpy()
        for k, v in model_from_onnx(tiny_onnx_dir.parent / "fp32", tiny_model_dir).state_dict().items()
    }
    int8 = {k: v.numpy() for k, v in model_from_onnx(tiny_onnx_dir, tiny_model_dir).state_dict().items()}
    assert fp32.keys() == want.keys() == int8.keys()
    for k in want:
        np.testing.assert_array_equal(fp32[k], want[k], err_msg=k)
        # int8: within one quantisation step (max |w| / 127 per tensor or per output column)
        step = np.abs(want[k]).max() / 127 + 1e-7
        assert np.abs(int8[k] - want[k]).max() <= 2 * step, k


def _gather_model(table: np.ndarray) -> object:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["out"], name="emb")],
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", table.shape[1]])],
        [numpy_helper.from_array(table, "table")],
    )
    return helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])


def _run(model: object, ids: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    return np.asarray(sess.run(None, {"ids": ids})[0])


def test_embedding_rows_get_one_scale_each() -> None:
    """One outlier row must not coarsen every other row (it did with one scale per table)."""
    from onnx import numpy_helper

    from drqa_ng.reading.onnx_io import quantize_embedding_rows

    rng = np.random.default_rng(0)
    table = (rng.standard_normal((50, 8)) * 0.05).astype(np.float32)
    table[7] *= 400.0  # an outlier row
    model = _gather_model(table)
    ids = np.arange(50, dtype=np.int64)
    before = _run(model, ids)
    assert quantize_embedding_rows(model) == 1
    after = _run(model, ids)
    step = np.abs(table).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(after - before) <= step / 2 + 1e-7)  # half a step of each row's own scale
    normal = np.delete(np.arange(50), 7)
    assert np.abs(after[normal] - before[normal]).max() < np.abs(table[7]).max() / 127 / 20
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}  # type: ignore[attr-defined]
    assert set(inits) == {"table_quantized", "table_scale"}  # the fp32 table is gone
    assert inits["table_quantized"].dtype == np.int8 and inits["table_scale"].shape == (50, 1)
    # the names model_from_onnx dequantises: q * scale gives the table back
    np.testing.assert_allclose(inits["table_quantized"] * inits["table_scale"], after, atol=1e-7)


def test_embedding_rows_leave_other_gathers_alone() -> None:
    from drqa_ng.reading.onnx_io import quantize_embedding_rows

    one_row = _gather_model(np.ones((1, 4), dtype=np.float32))
    assert quantize_embedding_rows(one_row) == 0
    assert [n.op_type for n in one_row.graph.node] == ["Gather"]  # type: ignore[attr-defined]


def test_a_table_two_gathers_read_is_quantised_once() -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from drqa_ng.reading.onnx_io import quantize_embedding_rows

    table = np.random.default_rng(1).standard_normal((20, 4)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "ids"], ["a"], name="first"),
            helper.make_node("Gather", ["table", "ids"], ["b"], name="second"),
            helper.make_node("Add", ["a", "b"], ["out"], name="sum"),
        ],
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 4])],
        [numpy_helper.from_array(table, "table")],
    )
    model = helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    ids = np.arange(20, dtype=np.int64)
    assert quantize_embedding_rows(model) == 1
    onnx.checker.check_model(model)
    names = [i.name for i in model.graph.initializer]
    assert sorted(names) == ["table_quantized", "table_scale"]  # once, not once per Gather
    step = np.abs(table).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(_run(model, ids) - 2 * table) <= step + 1e-6)


def _matmul_model(w: np.ndarray) -> object:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="up")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", w.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", w.shape[1]])],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])


def _run_x(model: object, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    return np.asarray(sess.run(["y"], {"x": x})[0])


def test_smoothing_is_exact_in_fp32_and_shrinks_the_int8_error_of_an_outlier_channel(tmp_path: Path) -> None:
    """One input channel 60x the others (as a LayerNorm output feeding an FFN has): one int8 scale per
    activation tensor then rounds every other channel coarsely; SmoothQuant's migration moves the
    outlier into the weight's row, exactly in fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from drqa_ng.reading.onnx_io import ffn_input_matmuls, smooth_matmuls

    rng = np.random.default_rng(0)
    w = (rng.standard_normal((16, 64)) * 0.1).astype(np.float32)
    x = rng.standard_normal((200, 16)).astype(np.float32)
    x[:, 3] *= 60.0
    plain = _matmul_model(w)
    assert ffn_input_matmuls(plain) == ["up"]  # [16, 64] widens: an FFN input
    assert ffn_input_matmuls(_matmul_model(w[:, :8])) == []  # [16, 8] does not
    exact = _run_x(plain, x)
    smoothed = _matmul_model(w)
    assert smooth_matmuls(smoothed, {"up": np.abs(x).max(axis=0)}) == 1
    onnx.checker.check_model(smoothed)
    assert [n.op_type for n in smoothed.graph.node] == ["Mul", "MatMul"]  # type: ignore[attr-defined]
    np.testing.assert_allclose(_run_x(smoothed, x), exact, rtol=1e-4, atol=1e-4)

    def int8_error(model: object, name: str) -> float:
        src, dst = tmp_path / f"{name}.onnx", tmp_path / f"{name}.int8.onnx"
        onnx.save(model, str(src))
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True)
        return float(np.abs(_run_x(onnx.load(str(dst)), x) - exact).mean())

    assert int8_error(smoothed, "smoothed") < 0.5 * int8_error(plain, "plain")


def test_smoothed_export_reads_and_model_from_onnx_divides_the_scales_back_out(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    import torch

    from drqa_ng.reading.features import load_tokenizer, make_windows
    from drqa_ng.reading.model import load_model
    from drqa_ng.reading.onnx_io import export_reader, model_from_onnx

    tok = load_tokenizer(tiny_model_dir)
    windows = [make_windows(tok, [Q, "Where is the basin?"], [TEXT, TEXT], 64, 16)]
    manifest = export_reader(tiny_model_dir, tmp_path / "int8", smooth_windows=windows)
    assert manifest["smoothed_matmuls"] == 2 and manifest["smooth_alpha"] == 0.5
    torch_r, int8_r = load_reader(tiny_model_dir), load_reader(tmp_path / "int8", backend="onnx")
    w = make_windows(tok, [Q], [TEXT], 64, 16)
    ts, _ = torch_r.logits_fn(w)
    qs, _ = int8_r.logits_fn(w)
    assert np.corrcoef(qs.ravel(), ts.ravel())[0, 1] > 0.9
    rebuilt, orig = model_from_onnx(tmp_path / "int8", tiny_model_dir), load_model(tiny_model_dir)
    params = dict(orig.named_parameters())
    for name, p in rebuilt.named_parameters():
        step = params[name].detach().abs().max() / 100  # int8 rounding, not a factor s off
        assert torch.allclose(p, params[name], atol=float(step)), name


def test_weight_only_matmul_is_int8_on_disk_and_folds_back_to_fp32_arithmetic() -> None:
    import onnx

    from drqa_ng.reading.onnx_io import fold_weight_dequant, matmul_weight_dims, weight_only_matmuls

    rng = np.random.default_rng(1)
    w = (rng.standard_normal((16, 64)) * 0.1).astype(np.float32)
    x = rng.standard_normal((50, 16)).astype(np.float32)
    x[:, 3] *= 60.0  # an outlier channel: no int8 activation scale is involved, so it costs nothing
    exact = _run_x(_matmul_model(w), x)
    model = _matmul_model(w)
    assert matmul_weight_dims(model) == {"up": (16, 64)}
    assert weight_only_matmuls(model, ["up"]) == 1
    onnx.checker.check_model(model)
    inits = {i.name: i for i in model.graph.initializer}  # type: ignore[attr-defined]
    assert sorted(inits) == ["w_quantized", "w_scale", "w_zero_point"]
    assert inits["w_quantized"].data_type == onnx.TensorProto.INT8
    assert [n.op_type for n in model.graph.node] == ["DequantizeLinear", "MatMul"]  # type: ignore[attr-defined]
    # unfolded, onnxruntime may fuse DequantizeLinear + MatMul into a dynamically quantised MatMul
    # (int8 activations after all), so sessions are made from the folded graph (load_onnx_session)
    assert fold_weight_dequant(model) == 1
    assert [n.op_type for n in model.graph.node] == ["MatMul"]  # type: ignore[attr-defined]
    assert [i.name for i in model.graph.initializer] == ["w"]  # type: ignore[attr-defined]
    step = np.abs(w).max(axis=0) / 127  # one scale per output column
    bound = np.abs(x) @ np.broadcast_to(step / 2, w.shape) + 1e-4
    assert np.all(np.abs(_run_x(model, x) - exact) <= bound)  # the weight's rounding only


@pytest.mark.parametrize("mode", ["ffn", "all"])
def test_fp32_compute_export_is_int8_sized_and_reads_like_fp32(
    tiny_model_dir: Path, tiny_onnx_dir: Path, tmp_path: Path, mode: str
) -> None:
    import torch

    from drqa_ng.reading.features import load_tokenizer, make_windows
    from drqa_ng.reading.model import load_model
    from drqa_ng.reading.onnx_io import export_reader, model_from_onnx, read_onnx_bytes

    manifest = export_reader(tiny_model_dir, tmp_path / mode, fp32_compute=mode)
    assert manifest["fp32_compute"] == mode and manifest["fp32_compute_matmuls"] >= 2
    data = read_onnx_bytes(tmp_path / mode)
    fp32_bytes = len(read_onnx_bytes(tiny_onnx_dir.parent / "fp32"))
    assert len(data) < 0.5 * fp32_bytes  # the weights stay int8 on disk
    assert (b"MatMulInteger" in data) == (mode == "ffn")  # "all": no int8 arithmetic left
    tok = load_tokenizer(tiny_model_dir)
    w = make_windows(tok, [Q], [TEXT], 64, 16)
    ts, te = load_reader(tiny_model_dir).logits_fn(w)
    qs, qe = load_reader(tmp_path / mode, backend="onnx").logits_fn(w)
    real = w.attention_mask.astype(bool)
    if mode == "all":  # weight rounding only: far closer than dynamic int8
        np.testing.assert_allclose(qs[real], ts[real], atol=0.05)
        np.testing.assert_allclose(qe[real], te[real], atol=0.05)
    assert np.corrcoef(qs[real], ts[real])[0, 1] > 0.95
    rebuilt, orig = model_from_onnx(tmp_path / mode, tiny_model_dir), load_model(tiny_model_dir)
    params = dict(orig.named_parameters())
    for name, p in rebuilt.named_parameters():
        step = params[name].detach().abs().max() / 100
        assert torch.allclose(p, params[name], atol=float(step)), name


def test_an_int8_folder_whose_arithmetic_breaks_on_this_cpu_is_refused(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The export records the fp32 logits of a fixed check window; loading compares (onnxruntime's
    u8s8 int8 products overflow on x86 CPUs without VNNI for some models: answers would be garbage)."""
    from drqa_ng.reading.features import load_tokenizer
    from drqa_ng.reading.onnx_io import CHECK_PASSAGE, export_reader, load_onnx_session, self_check

    folder = tmp_path / "int8"
    manifest = export_reader(tiny_model_dir, folder)
    ref = manifest["self_check"]
    assert ref["passage"] == CHECK_PASSAGE and len(ref["start"]) == len(ref["end"]) > 10
    session, tok = load_onnx_session(folder), load_tokenizer(folder)
    assert self_check(session, tok, ref) > 0.95  # int8 rounding only
    assert self_check(session, tok, {**ref, "passage": "other text"}) == 1.0  # nothing to compare
    load_reader(folder)  # passes
    # the same folder on a "CPU" whose int8 results do not follow fp32: here, a reference turned around
    data = json.loads((folder / "manifest.json").read_text())
    data["self_check"]["start"] = [-v for v in ref["start"]]
    (folder / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(UnsupportedError, match="--fp32-compute all"):
        load_reader(folder)
