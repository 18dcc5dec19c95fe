"""Time of the checkpoint script (target: under 5 minutes on 2 CPU cores per set: addition, replies)
and the quality it reaches.

    .venv/bin/python bench/checkpoint_time.py

Trains both checkpoints into a temporary folder (the shipped ones are not touched) and prints the
seconds and the exact-match accuracies next to the shipped ones.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rlcourse.lm.checkpoints import CHECKPOINTS
from rlcourse.lm.make_checkpoints import ReplySettings, Settings, make, make_replies  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        acc = make(Settings(), Path(tmp))
        seconds = time.perf_counter() - start
    print(f"\ncheckpoint script: {seconds:.0f} s (target < 300 s on 2 cores)")
    for stage, value in acc.items():
        meta = CHECKPOINTS / f"addition-{stage}" / "meta.json"
        shipped = json.loads(meta.read_text())["exact_match"] if meta.exists() else float("nan")
        print(f"  {stage:<5} exact match {value:.3f}   shipped {shipped:.3f}")
    with tempfile.TemporaryDirectory() as tmp:  # Chapters 6-7: the replies task
        start = time.perf_counter()
        figures = make_replies(ReplySettings(), Path(tmp))
        seconds = time.perf_counter() - start
    print(f"
replies checkpoints: {seconds:.0f} s (target < 300 s on 2 cores)")
    sft = json.loads((CHECKPOINTS / "replies-sft" / "meta.json").read_text())
    rm = json.loads((CHECKPOINTS / "replies-rm" / "meta.json").read_text())
    print(f"  replies-sft gold {figures['sft_gold']:+.3f} (shipped {sft['gold']:+.3f}); replies-rm held-out "
          f"accuracy {figures['replies-rm']:.3f} (shipped {rm['held_out_accuracy']:.3f})")


if __name__ == "__main__":
    main()
