"""ONNX export, int8 dynamic quantisation and the shippable ONNX folder (parts + sha256 manifest).

An ONNX folder (``kind = "reader-onnx"``) holds the model bytes split into ``model.onnx.partN`` files
(each below ``PART_BYTES``, so every file stays under common 16 MB repository/package limits), the
tokenizer files, ``config.json`` and ``manifest.json`` with each part's sha256 and the sha256 of the
whole model. The loader checks every hash before handing the bytes to onnxruntime.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from drqa_ng.errors import IndexFormatError, UnsupportedError
from drqa_ng.index_io import MANIFEST, atomic_dir, file_sha256, quantize_rows
from drqa_ng.reading.formats import FP32_COMPUTE
from drqa_ng.reading.formats import ONNX_KIND as ONNX_KIND  # re-exported: older imports
from drqa_ng.reading.formats import ONNX_VERSION as ONNX_VERSION
from drqa_ng.reading.manifest import OnnxPart, ReaderManifest

if TYPE_CHECKING:
    from drqa_ng.reading.features import Windows

log = logging.getLogger(__name__)

PART_BYTES = 15 * 1024 * 1024
OPSET = 17


def export_onnx(model_dir: Path, onnx_path: Path) -> None:
    """Export a trained model folder or a Hugging Face QA checkpoint to one fp32 ONNX file with
    dynamic batch and sequence axes (checkpoints without token types get no ``token_type_ids`` input)."""
    import torch

    from drqa_ng.reading.hf import is_checkpoint, load_qa_model
    from drqa_ng.reading.model import load_model

    model = load_qa_model(model_dir) if is_checkpoint(Path(model_dir)) else load_model(model_dir)
    # a padded row in the example batch, so the trace goes through the attention-mask path with real
    # padding (tests check padded batches against unpadded ones)
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, 10:] = 0
    dummy = (torch.ones(2, 16, dtype=torch.long), mask, torch.zeros(2, 16, dtype=torch.long))
    # dynamo=False: the TorchScript exporter needs no onnxscript and handles this static graph; its
    # tracer warnings are about Python-side shape checks that are constant for an encoder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _export(torch, model, dummy, onnx_path)


def _export(torch: Any, model: Any, dummy: tuple[Any, ...], onnx_path: Path) -> None:
    axes = {0: "batch", 1: "seq"}
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    if not getattr(model, "takes_types", True):
        inputs = inputs[:2]  # the graph has no token_type_ids input (the reader feeds what it declares)
    torch.onnx.export(
        model,
        dummy,
        str(onnx_path),
        input_names=inputs,
        output_names=["start_logits", "end_logits"],
        dynamic_axes={**{name: axes for name in inputs}, "start_logits": axes, "end_logits": axes},
        opset_version=OPSET,
        dynamo=False,
    )


SMOOTH_ALPHA = 0.5
"""SmoothQuant's migration strength: s_j = max|x_j|^a / max|W_j|^(1 - a) (0.5, the paper's default;
0.8 was worse on the 6-layer MPNet reader's train-article questions: docs/reader.md)."""
SMOOTH_SUFFIX = "_smooth_inv"


def quantize_int8(
    fp32_path: Path, int8_path: Path, smooth_windows: Sequence[Windows] = (), fp32_compute: str = "none"
) -> int:
    """Dynamic int8 quantisation: int8 weights for MatMul/Gemm (onnxruntime ``quantize_dynamic``,
    QInt8, one scale per output channel; activations quantised at run time) and embedding tables
    quantised one scale per row (``quantize_embedding_rows``). With ``smooth_windows`` (token windows
    of representative questions and passages), the FFN input MatMuls are smoothed first
    (``smooth_matmuls``); returns how many were.

    Measured on 600 part-A train-article questions (student of 2026-12-07, fp32 F1 87.29): onnxruntime's
    own Gather quantisation (one scale for the whole 30,522 x 384 table) gave F1 85.82; per-row tables
    86.92 (docs/reader.md). Earlier, per-channel MatMul weights kept EM/F1 56.8/69.2 on the part-A
    validation articles against fp32 58.4/70.5, where one scale per tensor gave 55.5/67.5. Smoothing
    the 6-layer MPNet reader's FFN inputs (maxima from 200 part-A train-article questions): F1 78.28 ->
    78.78 on all 1,637 part-A validation questions (fp32 79.53; docs/reader.md).

    ``fp32_compute``: "ffn" leaves the FFN input MatMuls (``ffn_input_matmuls``) out of the dynamic
    quantisation and gives them int8 *weights* only (``weight_only_matmuls``): stored int8 like the rest,
    run in fp32, so their outlier-channel inputs are never quantised; "all" does that for every MatMul
    with a constant weight (no int8 arithmetic at all: fp32 accuracy at int8 size, and no u8s8
    saturation on x86 CPUs without VNNI, where onnxruntime's int8 MatMul can overflow; docs/reader.md).
    Returns how many MatMuls were smoothed or given fp32 arithmetic (smoothing is moot then, not done)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if fp32_compute not in FP32_COMPUTE:
        raise ValueError(f"fp32_compute must be one of {FP32_COMPUTE}, got {fp32_compute!r}")
    with tempfile.TemporaryDirectory(prefix="drqa-ng-rows-") as td:
        rows = Path(td) / "rows.onnx"
        model = onnx.load(str(fp32_path))
        done = 0
        targets = {"none": [], "ffn": ffn_input_matmuls(model), "all": list(matmul_weight_dims(model))}[
            fp32_compute
        ]
        if smooth_windows and fp32_compute == "none":
            done = smooth_matmuls(model, activation_maxima(model, ffn_input_matmuls(model), smooth_windows))
        quantize_embedding_rows(model)
        if fp32_compute == "all":
            done = weight_only_matmuls(model, targets)
            onnx.save(model, str(int8_path))
            return done
        onnx.save(model, str(rows))
        quantize_dynamic(
            str(rows),
            str(int8_path),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm"],
            per_channel=True,
            nodes_to_exclude=targets,
        )
        if targets:
            out = onnx.load(str(int8_path))
            done = weight_only_matmuls(out, targets)
            onnx.save(out, str(int8_path))
    return done


def matmul_weight_dims(model: Any) -> dict[str, tuple[int, int]]:
    """The MatMuls whose second input is a 2-D float initializer (a layer's weight W [d, D]): node
    name -> (d, D), in graph order."""
    from onnx import TensorProto

    shapes = {i.name: tuple(i.dims) for i in model.graph.initializer if i.data_type == TensorProto.FLOAT}
    out: dict[str, tuple[int, int]] = {}
    for node in model.graph.node:
        dims = shapes.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if dims is not None and len(dims) == 2:
            out[str(node.name)] = (int(dims[0]), int(dims[1]))
    return out


WEIGHT_ONLY_OP = "DequantizeLinear"


def weight_only_matmuls(model: Any, names: Sequence[str]) -> int:
    """Store, in place, the constant weight W ([K, N], fp32) of each MatMul named in ``names`` as int8
    with one scale per output column, symmetric:

        s_n = max_k |W_kn| / 127,   q_kn = round(W_kn / s_n) in [-127, 127],   W_kn ~ q_kn * s_n

    (``<W>_quantized``, ``<W>_scale``, ``<W>_zero_point``: the names ``model_from_onnx`` dequantises)
    and a ``DequantizeLinear`` (axis 1) that makes W again, so the MatMul itself runs in fp32 on
    unquantised activations. ``fold_weight_dequant`` turns these back into fp32 initializers when a
    session is made. Returns how many weights were rewritten."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    wanted = set(names)
    dequant = []
    moved: set[str] = set()
    for node in graph.node:
        if node.name not in wanted or node.op_type != "MatMul" or node.input[1] not in inits:
            continue
        name = node.input[1]
        if name in moved:
            continue
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        if w.ndim != 2:
            continue
        scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0
        q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
        graph.initializer.extend(
            [
                numpy_helper.from_array(q, name + "_quantized"),
                numpy_helper.from_array(scale.astype(np.float32), name + "_scale"),
                numpy_helper.from_array(np.zeros(w.shape[1], dtype=np.int8), name + "_zero_point"),
            ]
        )
        dequant.append(
            helper.make_node(
                WEIGHT_ONLY_OP,
                [name + "_quantized", name + "_scale", name + "_zero_point"],
                [name],
                name=name + "/dequant_weight",
                axis=1,
            )
        )
        moved.add(name)
    if moved:
        keep = [i for i in graph.initializer if i.name not in moved]
        del graph.initializer[:]
        graph.initializer.extend(keep)
        rest = list(graph.node)
        del graph.node[:]
        graph.node.extend([*dequant, *rest])  # they read initializers only: first is topological
    return len(moved)


def fold_weight_dequant(model: Any) -> int:
    """Replace, in place, each ``DequantizeLinear`` whose inputs are all initializers (the int8 weights
    of ``weight_only_matmuls``) by the fp32 initializer it computes, w = (q - zero_point) * scale along
    its axis; the int8 tensors go. Returns how many were folded (onnxruntime keeps such nodes as
    run-time work, so the session would dequantise every weight on every call)."""
    from onnx import numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    folded: set[int] = set()  # node positions: comparing protobuf nodes by value is slow on a large graph
    used: set[str] = set()
    for j, node in enumerate(graph.node):
        if node.op_type != WEIGHT_ONLY_OP or not all(i in inits for i in node.input if i):
            continue
        q = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
        scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        zero = (
            numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
            if len(node.input) > 2 and node.input[2]
            else np.zeros_like(scale)
        )
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        shape = [1] * q.ndim
        if scale.ndim == 1 and q.ndim > 1:
            shape[axis] = -1
        w = (q - zero.reshape(shape)) * scale.reshape(shape)
        graph.initializer.append(numpy_helper.from_array(w.astype(np.float32), node.output[0]))
        folded.add(j)
        used.update(i for i in node.input if i)
    if folded:
        rest = [n for j, n in enumerate(graph.node) if j not in folded]
        still = {i for n in rest for i in n.input}
        keep = [i for i in graph.initializer if i.name not in used or i.name in still]
        del graph.initializer[:]
        graph.initializer.extend(keep)
        del graph.node[:]
        graph.node.extend(rest)
    return len(folded)


def ffn_input_matmuls(model: Any) -> list[str]:
    """Names of the MatMuls that widen a constant weight, [d, D] with D > d: a transformer's FFN input
    (up-projection) MatMuls, fed by a LayerNorm whose output has a few outlier channels."""
    return [name for name, (d, wide) in matmul_weight_dims(model).items() if wide > d]


def activation_maxima(model: Any, names: Sequence[str], windows: Sequence[Windows]) -> dict[str, np.ndarray]:
    """Per input channel, max |x| of the first input of each MatMul in ``names`` over the real (unpadded)
    tokens of ``windows``, from an fp32 onnxruntime run of ``model`` with those inputs as extra outputs."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    nodes = {n.name: n for n in model.graph.node}
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    outputs = list(dict.fromkeys(nodes[n].input[0] for n in names))  # q/k/v-style MatMuls share an input
    for t in outputs:
        probe.graph.output.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every named tensor
    sess = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    declared = {i.name for i in sess.get_inputs()}
    maxima: dict[str, np.ndarray] = {}
    for w in windows:
        got = dict(zip(outputs, sess.run(outputs, w.model_inputs(declared)), strict=True))
        real = w.attention_mask.astype(bool)
        for t in outputs:
            m = np.abs(got[t][real]).max(axis=0)
            maxima[t] = m if t not in maxima else np.maximum(maxima[t], m)
    return {n: maxima[nodes[n].input[0]] for n in names if nodes[n].input[0] in maxima}


def smooth_matmuls(model: Any, maxima: Mapping[str, np.ndarray], alpha: float = SMOOTH_ALPHA) -> int:
    """SmoothQuant's migration (Xiao et al. 2022, "SmoothQuant: Accurate and Efficient Post-Training
    Quantization for Large Language Models"), in place, for each MatMul named in ``maxima`` (its
    input's per-channel max |x_j|): with W the [d, D] weight,

        s_j = max|x_j|^alpha / max_k |W_jk|^(1 - alpha),   W'_jk = s_j W_jk,   x'_j = x_j / s_j

    so x' W' = x W exactly in fp32, while x' has no outlier channels left for one per-tensor int8
    activation scale to cover. x / s is a ``Mul`` by the stored 1/s (``<weight>_smooth_inv``, which
    ``model_from_onnx`` divides back out) before the MatMul; the weight keeps its name. Returns how
    many MatMuls were rewritten."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes = []
    done = 0
    for node in graph.node:
        if node.name in maxima and node.op_type == "MatMul" and node.input[1] in inits:
            weight = inits[node.input[1]]
            w = numpy_helper.to_array(weight).astype(np.float32)
            xmax = np.maximum(np.asarray(maxima[node.name], dtype=np.float32), 1e-5)
            wmax = np.maximum(np.abs(w).max(axis=1), 1e-5)
            scale = np.clip(xmax**alpha / wmax ** (1 - alpha), 1e-2, 1e2).astype(np.float32)
            weight.CopyFrom(numpy_helper.from_array(w * scale[:, None], weight.name))
            inv = weight.name + SMOOTH_SUFFIX
            graph.initializer.append(numpy_helper.from_array((1.0 / scale).astype(np.float32), inv))
            smoothed = node.name + "/smoothed_input"
            nodes.append(
                helper.make_node("Mul", [node.input[0], inv], [smoothed], name=node.name + "/smooth")
            )
            node.input[0] = smoothed
            done += 1
        nodes.append(node)
    if done:
        del graph.node[:]
        graph.node.extend(nodes)
    return done


def quantize_embedding_rows(model: Any, min_rows: int = 2) -> int:
    """Replace, in place, every ``Gather`` that looks rows up in a 2-D float initializer table T (an
    embedding) with int8 rows and one scale per row, symmetric (``index_io.quantize_rows``):

        s_r = max_j |T_rj| / 127,  q_rj = round(T_rj / s_r) in [-127, 127],  T_rj ~ q_rj * s_r

    as ``Mul(Cast(Gather(q, ids)), Gather(s, ids))``. The tables are stored as ``<T>_quantized`` (int8)
    and ``<T>_scale`` (float, one per row), the names ``model_from_onnx`` dequantises. Returns how
    many tables were replaced (those with fewer than ``min_rows`` rows are left alone)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    tables = {i.name: i for i in graph.initializer if i.data_type == TensorProto.FLOAT and len(i.dims) == 2}
    replaced: set[str] = set()
    nodes = []
    for node in graph.node:
        table = tables.get(node.input[0]) if node.op_type == "Gather" and node.input else None
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if table is None or axis != 0 or table.dims[0] < min_rows:
            nodes.append(node)
            continue
        name, ids, out = table.name, node.input[1], node.output[0]
        if name not in replaced:  # a table two Gathers read is stored once
            q, scale = quantize_rows(numpy_helper.to_array(table).astype("float32"))
            graph.initializer.extend(
                [
                    numpy_helper.from_array(q, name + "_quantized"),
                    numpy_helper.from_array(scale[:, None], name + "_scale"),
                ]
            )
            replaced.add(name)
        nodes += [
            helper.make_node("Gather", [name + "_quantized", ids], [out + "_q"], name=node.name + "_rows"),
            helper.make_node(
                "Cast", [out + "_q"], [out + "_qf"], to=TensorProto.FLOAT, name=node.name + "_cast"
            ),
            helper.make_node("Gather", [name + "_scale", ids], [out + "_s"], name=node.name + "_scales"),
            helper.make_node("Mul", [out + "_qf", out + "_s"], [out], name=node.name + "_dequant"),
        ]
    if replaced:
        keep = [i for i in graph.initializer if i.name not in replaced]
        del graph.initializer[:]
        graph.initializer.extend(keep)
        del graph.node[:]
        graph.node.extend(nodes)
    return len(replaced)


def write_onnx_folder(
    model_dir: Path, onnx_file: Path, out: Path, precision: str, **info: Any
) -> dict[str, Any]:
    """Write the shippable folder for ``onnx_file``: parts, tokenizer/config copies, manifest."""
    from drqa_ng.reading.features import load_tokenizer
    from drqa_ng.reading.formats import TOKENIZER_FILES
    from drqa_ng.reading.hf import describe, is_checkpoint

    checkpoint = is_checkpoint(Path(model_dir))
    src = describe(Path(model_dir)) if checkpoint else ReaderManifest.load(model_dir).to_json()
    data = Path(onnx_file).read_bytes()
    with atomic_dir(Path(out)) as tmp:
        parts = []
        for i in range(0, max(len(data), 1), PART_BYTES):
            name = f"model.onnx.part{i // PART_BYTES}"
            (tmp / name).write_bytes(data[i : i + PART_BYTES])
            parts.append(OnnxPart(name, len(data[i : i + PART_BYTES]), file_sha256(tmp / name)))
        for name in (*TOKENIZER_FILES, "config.json"):
            if (Path(model_dir) / name).is_file():
                shutil.copyfile(Path(model_dir) / name, tmp / name)
        if not (tmp / "tokenizer.json").is_file():  # a checkpoint with slow-tokenizer files only
            load_tokenizer(Path(model_dir)).save(str(tmp / "tokenizer.json"))
        manifest = replace(
            ReaderManifest.new(ONNX_KIND, **{**src, **info}),
            precision=precision,
            parts=tuple(parts),
            model_bytes=len(data),
            model_sha256=hashlib.sha256(data).hexdigest(),
            tokenizer_sha256={n: file_sha256(tmp / n) for n in TOKENIZER_FILES if (tmp / n).is_file()},
        ).save(tmp)
    return manifest


CHECK_QUESTION = "Which river flows through the old capital, and when was its first bridge built?"
CHECK_PASSAGE = (
    "The old capital stands on both banks of the river Spree. Its first stone bridge was built in 1307, "
    "and the island between the two arms of the river holds five museums, a cathedral and a park."
)
CHECK_MIN_CORRELATION = 0.9
"""An int8 folder whose start or end logits on the check window correlate less than this with the
fp32 export's (over the window's tokens) is refused where it is loaded: its arithmetic is broken on
this CPU, not merely rounded (a healthy int8 export stays above 0.99)."""


def _check_window(tokenizer: Any) -> Windows:
    from drqa_ng.reading.features import make_windows

    return make_windows(tokenizer, [CHECK_QUESTION], [CHECK_PASSAGE], 128, 32)


def check_logits(session: Any, tokenizer: Any) -> tuple[np.ndarray, np.ndarray]:
    """Start and end logits of ``session`` on the fixed check window (real tokens only)."""
    w = _check_window(tokenizer)
    declared = {i.name for i in session.get_inputs()}
    start, end = session.run(None, w.model_inputs(declared))[:2]
    real = w.attention_mask[0].astype(bool)
    return np.asarray(start[0][real], dtype=np.float64), np.asarray(end[0][real], dtype=np.float64)


def self_check(session: Any, tokenizer: Any, reference: Mapping[str, Any]) -> float:
    """The lower of the start and end logit correlations (Pearson) between ``session`` and the
    ``reference`` an export recorded (``export_reader``: the fp32 model's logits on the check window);
    1.0 when the reference is for other text or another tokenisation (nothing to compare)."""
    if reference.get("question") != CHECK_QUESTION or reference.get("passage") != CHECK_PASSAGE:
        return 1.0
    start, end = check_logits(session, tokenizer)
    want_s = np.asarray(reference.get("start", []), dtype=np.float64)
    want_e = np.asarray(reference.get("end", []), dtype=np.float64)
    if want_s.shape != start.shape or want_e.shape != end.shape or len(start) < 3:
        return 1.0

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        if a.std() < 1e-9 or b.std() < 1e-9:  # a constant row: agreeing only if both are the same
            return 1.0 if np.allclose(a, b, atol=1e-3) else 0.0
        return float(np.corrcoef(a, b)[0, 1])

    return min(corr(start, want_s), corr(end, want_e))


def export_reader(
    model_dir: Path,
    out: Path,
    fp32_out: Path | None = None,
    smooth_windows: Sequence[Windows] = (),
    fp32_compute: str = "none",
    **info: Any,
) -> dict[str, Any]:
    """Export ``model_dir`` to an int8 ONNX folder ``out`` (and optionally an fp32 one); returns out's
    manifest. ``smooth_windows``, ``fp32_compute``: see ``quantize_int8`` (the manifest records
    ``smoothed_matmuls``, or ``fp32_compute`` and ``fp32_compute_matmuls``)."""
    with tempfile.TemporaryDirectory(prefix="drqa-ng-onnx-") as td:
        fp32 = Path(td) / "model.fp32.onnx"
        int8 = Path(td) / "model.int8.onnx"
        log.info("exporting %s to ONNX", model_dir)
        export_onnx(model_dir, fp32)
        if fp32_out is not None:
            write_onnx_folder(model_dir, fp32, fp32_out, "fp32", **info)
        log.info("quantising to int8")
        done = quantize_int8(fp32, int8, smooth_windows, fp32_compute)
        info = {**info, "self_check": _reference(fp32, model_dir)}
        if fp32_compute != "none":
            info = {**info, "fp32_compute": fp32_compute, "fp32_compute_matmuls": done}
        elif done:
            info = {**info, "smoothed_matmuls": done, "smooth_alpha": SMOOTH_ALPHA}
        return write_onnx_folder(model_dir, int8, out, "int8", **info)


def default_cache_dir() -> Path:
    """Where ``cached_export`` keeps exported checkpoints: ``$XDG_CACHE_HOME/drqa_ng/readers``."""
    from drqa_ng.config import cache_dir

    return cache_dir("readers")


def cached_export(checkpoint: Path, cache_dir: Path | None = None) -> Path:
    """The int8 ONNX folder of a Hugging Face checkpoint, exported on first use and kept under
    ``cache_dir`` keyed by the sha256 of its config and weights (so an updated checkpoint re-exports)."""
    from drqa_ng.reading.hf import WEIGHT_FILES

    checkpoint = Path(checkpoint)
    digest = hashlib.sha256()
    for name in ("config.json", *WEIGHT_FILES):
        if (checkpoint / name).is_file():
            digest.update(file_sha256(checkpoint / name).encode())
    out = (cache_dir or default_cache_dir()) / f"{digest.hexdigest()[:16]}-int8"
    if not (out / MANIFEST).is_file():
        log.warning("exporting %s to int8 ONNX at %s (once)", checkpoint, out)
        out.parent.mkdir(parents=True, exist_ok=True)
        export_reader(checkpoint, out, source=str(checkpoint))
    return out


def read_onnx_bytes(folder: Path) -> bytes:
    """The model bytes of an ONNX folder, every part and the whole checked against the manifest."""
    folder = Path(folder)
    manifest = ReaderManifest.load(folder, ONNX_KIND)
    if not manifest.parts:
        raise IndexFormatError(f"{folder}/{MANIFEST} lists no model parts")
    chunks = []
    for part in manifest.parts:
        p = folder / part.file
        if not p.is_file():
            raise IndexFormatError(f"{folder} is incomplete: {part.file} missing")
        blob = p.read_bytes()
        if hashlib.sha256(blob).hexdigest() != part.sha256:
            raise IndexFormatError(f"{p} is corrupt: sha256 does not match {MANIFEST}")
        chunks.append(blob)
    data = b"".join(chunks)
    if hashlib.sha256(data).hexdigest() != manifest.model_sha256:
        raise IndexFormatError(f"{folder}: reassembled model does not match {MANIFEST} sha256")
    for name, digest in manifest.tokenizer_sha256.items():
        if not (folder / name).is_file() or file_sha256(folder / name) != digest:
            raise IndexFormatError(f"{folder}/{name} is missing or corrupt: sha256 does not match {MANIFEST}")
    return data


def _reference(fp32_file: Path, model_dir: Path) -> dict[str, Any]:
    """What ``self_check`` compares against: the fp32 export's logits on the check window."""
    import onnxruntime as ort

    from drqa_ng.reading.features import load_tokenizer

    session = ort.InferenceSession(str(fp32_file), providers=["CPUExecutionProvider"])
    start, end = check_logits(session, load_tokenizer(Path(model_dir)))
    return {
        "question": CHECK_QUESTION,
        "passage": CHECK_PASSAGE,
        "start": [round(float(v), 4) for v in start],
        "end": [round(float(v), 4) for v in end],
    }


def load_onnx_session(folder: Path, threads: int | None = None) -> Any:
    """An onnxruntime CPU session over a verified ONNX folder."""
    try:
        import onnxruntime as ort
    except ImportError as e:  # pragma: no cover - onnxruntime is a declared dependency
        raise UnsupportedError("onnxruntime is not installed") from e
    data = read_onnx_bytes(folder)
    if WEIGHT_ONLY_OP.encode() in data:  # int8-stored weights run in fp32: dequantised once, here
        import onnx

        model = onnx.load_from_string(data)
        if fold_weight_dequant(model):
            data = model.SerializeToString()
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own untyped errors for a bad graph
        raise IndexFormatError(f"{folder}: onnxruntime cannot load the model: {e}") from e


def _bias_name_after(graph: Any, start: str, inits: set[str], depth: int = 6) -> str | None:
    """The ``*.bias`` initializer added to the output of a quantised MatMul (walk forward ``depth`` nodes)."""
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    frontier = [start]
    for _ in range(depth):
        nxt = []
        for name in frontier:
            for node in consumers.get(name, []):
                if node.op_type == "Add":
                    bias = [i for i in node.input if i in inits and i.endswith(".bias")]
                    if bias:
                        return str(bias[0])
                nxt.extend(node.output)
        frontier = nxt
    return None


def model_from_onnx(folder: Path, base: Path) -> Any:
    """A torch ``SpanModel`` rebuilt from a (possibly int8) ONNX folder: weights dequantised.

    w = (q - zero_point) * scale per embedding row (``quantize_embedding_rows``; per tensor in older
    exports) or per output column (MatMulInteger weights, transposed back into ``nn.Linear`` layout).
    MatMul weights carry exporter-made names (``onnx::MatMul_N``), so each is named by the ``<layer>.bias`` initializer added to its output.
    Used to continue training a shipped reader whose fp32 weights were not kept. ``base`` gives the
    encoder config (the ONNX folder's own ``config.json`` when it has one).
    """
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper
    from transformers import AutoConfig

    from drqa_ng.reading.model import SpanModel, _encoder_from_config

    folder = Path(folder)
    config = AutoConfig.from_pretrained(str(folder if (folder / "config.json").is_file() else base))
    model = SpanModel(_encoder_from_config(config), int(config.hidden_size))
    graph = onnx.load_from_string(read_onnx_bytes(folder)).graph
    arrays = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    # the exporter stores equal tensors once (e.g. the zero biases of an untrained layer) and names
    # the others through Identity nodes
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in arrays:
            arrays[node.output[0]] = arrays[node.input[0]]
    state: dict[str, Any] = {}
    for name, arr in arrays.items():
        if name.endswith(("_scale", "_zero_point", SMOOTH_SUFFIX)):
            continue
        if name.endswith("_quantized"):
            stem = name.removesuffix("_quantized")
            zero = arrays.get(stem + "_zero_point", np.zeros((), np.float32))  # none: symmetric rows
            scale = arrays[stem + "_scale"].astype(np.float32)
            w = (arr.astype(np.float32) - zero.astype(np.float32)) * scale
        else:
            stem, w = name, arr
        if stem + SMOOTH_SUFFIX in arrays:  # smoothed: W = W' / s
            w = w * arrays[stem + SMOOTH_SUFFIX].astype(np.float32)[:, None]
        if stem.startswith("onnx::MatMul"):
            bias = _bias_name_after(graph, name, set(arrays))
            if bias is None:
                raise IndexFormatError(f"{folder}: cannot name the MatMul weight {stem}")
            state[bias.removesuffix(".bias") + ".weight"] = torch.from_numpy(np.ascontiguousarray(w.T))
        elif stem in dict(model.named_parameters()) or stem in dict(model.named_buffers()):
            state[stem] = torch.from_numpy(np.array(w, dtype=np.float32))
    missing, _ = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))]
    if missing:
        raise IndexFormatError(f"{folder}: ONNX weights do not cover {missing[:5]}")
    model.eval()
    return model
