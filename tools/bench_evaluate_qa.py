#!/usr/bin/env python
"""How much the QA verdict adds to ``evaluate`` on a 1080p frame.

Makes a 1920x1080 HDR frame (a real HDRI of the repository, resized) and a prediction from it,
then times, in this process: ``evaluate(prediction, reference)`` as a whole (reports written),
the QA checks of one frame alone (:func:`hdr_mcp.metrics.qa.check_frame`, without and with the
SDR), and prints the QA's share. Best of ``--repeat`` runs (the machine may be shared).

    python tools/bench_evaluate_qa.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def best_seconds(call, repeat: int) -> float:
    call()  # imports and caches outside the measurement
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    import cv2
    import numpy as np

    from hdr_mcp.io import read_image, write_exr
    from hdr_mcp.metrics.evaluate import evaluate
    from hdr_mcp.metrics.qa import check_frame

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    hdr = read_image(ROOT / "tests" / "data" / "sunset.exr").rgb()
    hdr = np.ascontiguousarray(cv2.resize(hdr, (1920, 1080), interpolation=cv2.INTER_LINEAR))
    prediction = np.minimum(hdr * np.float32(1.1), np.float32(40.0))
    sdr = np.clip(hdr, 0.0, 1.0)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        ref = write_exr(folder / "ref.exr", hdr)
        pred = write_exr(folder / "pred.exr", prediction)
        whole = best_seconds(
            lambda: evaluate(pred, ref, output_dir=folder / "eval", overwrite=True), args.repeat
        )
        alone = best_seconds(lambda: check_frame(prediction), args.repeat)
        with_sdr = best_seconds(lambda: check_frame(prediction, sdr), args.repeat)
    print(f"evaluate, 1920x1080, with a reference, reports written: {whole:.2f} s")
    print(f"QA checks of the frame: {alone:.3f} s alone, {with_sdr:.3f} s with the SDR "
          f"({alone / whole:.0%} / {with_sdr / whole:.0%} of evaluate)")


if __name__ == "__main__":
    main()
