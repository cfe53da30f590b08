"""Bulk scoring of the champion, every candidate engine side by side in one run: scikit-learn's
`predict_proba`, the project's Numba kernel (churnops.scorer), Treelite + TL2cgen (compiled C) and
ONNX Runtime (skl2onnx). Prints rows/s, the ratio to scikit-learn measured in the same run (machines
here vary 3x from day to day, ratios do not) and the largest difference to `predict_proba`.

    make benchmark            # installs the `benchmark` dependency group, runs every benchmark
    python benchmarks/model_call.py [--rows 400000] [--model models/champion/model]

Needs a finished `make pipeline` (the champion bundle and the scoring snapshot).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def best_of(fn, repeats: int = 3) -> float:
    "The fastest of `repeats` calls, in seconds (after one warm-up call)."
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def treelite_engine(pipeline, workdir: Path):
    "TL2cgen-compiled C of the trees, fed with the pipeline's own preprocessing; None when not applicable."
    import tl2cgen
    import treelite

    prep, estimator = pipeline[:-1], pipeline[-1]
    if type(estimator).__name__ != "HistGradientBoostingClassifier":
        return None, "the champion is not a gradient-boosting model"
    model = treelite.sklearn.import_model(estimator)
    libpath = workdir / "treelite_model.so"
    # as many threads as OpenMP may use here (the Makefile caps it at 1; more is an error in Treelite)
    threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count())
    tl2cgen.export_lib(model, toolchain="gcc", libpath=str(libpath), params={"parallel_comp": os.cpu_count()},
                       nthread=threads)
    predictor = tl2cgen.Predictor(str(libpath), nthread=threads)

    def predict(frame: pd.DataFrame) -> np.ndarray:
        design = np.ascontiguousarray(prep.transform(frame), dtype=np.float64)
        return np.asarray(predictor.predict(tl2cgen.DMatrix(design, dtype="float64"))).reshape(len(frame), -1)[:, -1]
    return predict, "compiled with gcc"


def onnx_engine(pipeline, frame: pd.DataFrame):
    "The whole pipeline converted by skl2onnx, run by ONNX Runtime (its tree operator computes in float32)."
    import onnx.helper
    import onnxruntime as ort
    from skl2onnx import to_onnx

    # skl2onnx 1.20 emits scikit-learn 1.9's boolean missing-value flags as booleans, which onnx 1.23 refuses
    # ("AttributeProto.ints: Expected an int, got a boolean"): hand them over as the 0/1 integers ONNX defines.
    make_attribute = onnx.helper.make_attribute
    def integer_flags(key, value, *args, **kwargs):
        if isinstance(value, np.ndarray) and value.dtype == bool:
            value = value.astype(np.int64)
        elif isinstance(value, list | tuple) and any(isinstance(v, bool | np.bool_) for v in value):
            value = [int(v) if isinstance(v, bool | np.bool_) else v for v in value]
        return make_attribute(key, value, *args, **kwargs)
    onnx.helper.make_attribute = integer_flags
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    inputs = list(pipeline.feature_names_in_)
    types = [(c, StringTensorType([None, 1]) if frame[c].dtype == object or str(frame[c].dtype) == "category"
              else FloatTensorType([None, 1])) for c in inputs]
    onx = to_onnx(pipeline, initial_types=types, options={id(pipeline[-1]): {"zipmap": False}},
                  target_opset={"": 18, "ai.onnx.ml": 3})
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count()
    session = ort.InferenceSession(onx.SerializeToString(), options, providers=["CPUExecutionProvider"])
    output = session.get_outputs()[1].name

    def predict(frame: pd.DataFrame) -> np.ndarray:
        feed = {c: (frame[c].astype(str).to_numpy(object) if t.__class__.__name__ == "StringTensorType"
                    else frame[c].to_numpy(np.float32)).reshape(-1, 1) for c, t in types}
        return np.asarray(session.run([output], feed)[0])[:, 1]
    return predict, "float32: ONNX's TreeEnsemble operator takes no float64 here"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/champion/model")
    parser.add_argument("--snapshot", default="data/features/scoring.parquet")
    parser.add_argument("--rows", type=int, default=400_000)
    args = parser.parse_args()

    from churnops.model import Predictor, load_model, model_inputs
    from churnops.scorer import Scorer

    pipeline = load_model(args.model)
    snapshot = pd.read_parquet(args.snapshot)[model_inputs(pipeline)]
    frame = snapshot.sample(args.rows, replace=True, random_state=0).reset_index(drop=True)
    reference = pipeline.predict_proba(frame)[:, 1]  # the definition every engine is compared with
    print(f"champion: {type(pipeline[-1]).__name__}, {len(model_inputs(pipeline))} inputs; {len(frame):,} rows; "
          f"{os.cpu_count()} cores")

    engines = {"scikit-learn predict_proba": (lambda f: pipeline.predict_proba(f)[:, 1], "the reference")}
    scorer = Scorer(pipeline, {"*": [-1e12, 1e12]})
    engines["numba kernel (churnops.scorer)"] = (scorer.score_frame, "hand-written, verified on load")
    engines["churnops.model.Predictor (what runs)"] = (Predictor(pipeline).predict, "the one predict door")
    missing: dict[str, str] = {}  # contenders that could not run: in the table and in a closing warning
    with tempfile.TemporaryDirectory() as workdir:
        for name, build in (("treelite 4 + tl2cgen", lambda: treelite_engine(pipeline, Path(workdir))),
                            ("onnxruntime (skl2onnx)", lambda: onnx_engine(pipeline, frame))):
            try:
                started = time.perf_counter()
                engine, note = build()
                if engine is not None:
                    engines[name] = (engine, f"{note}; built in {time.perf_counter() - started:.1f} s")
                else:
                    missing[name] = f"skipped: {note}"
            except ImportError as error:
                missing[name] = f"not installed ({error}); `make benchmark` installs the benchmark group"
            except Exception as error:  # report and go on: one engine failing must not hide the others
                missing[name] = f"failed: {type(error).__name__}: {str(error)[:300]}"

        base = None
        print(f"\n{'engine':40s} {'rows/s':>12s} {'x sklearn':>10s} {'max |diff|':>12s}  note")
        for name, (engine, note) in engines.items():
            seconds = best_of(lambda engine=engine: engine(frame))
            diff = float(np.max(np.abs(engine(frame) - reference)))
            rate = len(frame) / seconds
            base = base or rate
            print(f"{name:40s} {rate:12,.0f} {rate / base:10.2f} {diff:12.2e}  {note}")
        for name, why in missing.items():
            print(f"{name:40s} {'-':>12s} {'-':>10s} {'-':>12s}  MISSING: {why}")
        if missing:
            print(f"\nWARNING: {len(missing)} contender(s) missing from this comparison: {', '.join(missing)}")


if __name__ == "__main__":
    main()
