"""What every chapter's setup cell calls once: quiet, deterministic, same look."""

from __future__ import annotations

import logging
import os
import warnings


def setup_notebook(seed: int = 0):
    """Prepare a chapter notebook and return ``np.random.default_rng(seed)``.

    * Seeds Python, NumPy and PyTorch (:func:`rlcourse.set_seed`).
    * Keeps everything offline (``HF_HUB_OFFLINE=1``) and silences the stderr logging of
      transformers and of warnings: nbgrader scores a test cell 0 when anything reaches stderr.
    * Applies the course's plot style.
    * Runs PyTorch on one thread: the course's models are too small to gain from more, and several
      notebooks often run at once (grading, tests, the book build), where threads that spin-wait for
      each other on shared cores slow everything down many times over.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    for name in ("transformers", "datasets", "torch"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers' bars ("Loading weights") use stderr
    from rlcourse.plotting import use_course_style
    from rlcourse.seeding import set_seed

    use_course_style()
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:  # chapters without torch
        pass
    return set_seed(seed)


def progress(iterable, desc: str = "", total: int | None = None):
    """A tqdm progress bar written to stdout (stderr would look like an error in the book and in grading)."""
    import sys

    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stdout, ncols=80, mininterval=2.0, ascii=True)


def show_source(obj):
    """The source code of a function or class of the support package, shown highlighted in the notebook.

    What a chapter teaches stays visible in its page even when the code lives once, in the package.
    """
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
