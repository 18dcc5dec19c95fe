"""Which pages of Chapters 5 to 7 assert something the shipped checkpoints show and another draw does not.

    .venv/bin/python bench/checkpoint_redraw.py [--seed 1] [--activation NAME] [--jobs 2] [--keep DIR] [--save DIR]
                                                [--control] [PAGE ...]

The pages of Chapters 5 to 7 start from the shipped checkpoints (``rlcourse/lm/checkpoints``), which
``python -m rlcourse.lm.make_checkpoints`` makes with seed 0. This script makes another draw of all of
them with the same script and settings and another seed (``Settings(seed=s)`` and
``ReplySettings(seed=s, comparison_seed=s + 1)``: other initialisations, data orders and reward-model
comparisons) into a temporary folder (or ``--keep DIR``), then executes every page that loads a
checkpoint against that draw (a first cell points ``load_checkpoint`` and ``load_reward_model`` at it;
an assert marked ``# shipped checkpoints only`` checks the shipped files themselves and is left out),
``--jobs`` pages at a time with one thread each, and prints for each page every assert that fails (its
asserts are rewritten to be recorded instead of raised, so one failure does not hide the next; they
change no state) and any other error that stopped it. ``--control`` runs the pages on the shipped
checkpoints in the same way beside them. The exit status is 1 if a page fails with the other draw.

A page that fails here asserts something the shipped checkpoints show and another draw of them does not:
a property of one starting point, which the page should either say it is or measure over several.
Changing anything the checkpoints are trained with (an activation, a training setting) is such a redraw
too, in effect, so this is the check to run before one; ``--activation gelu`` makes the draw, and runs the
pages, with the exact GELU in place of GPT-2's tanh approximation (``rlcourse.lm.models.FAST_GELU``).
Figures, not a test: about 13 minutes a draw on 2 cores (the checkpoint script, then the pages).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from autograde.book import ONE_THREAD, pages  # noqa: E402
from rlcourse.lm.checkpoints import CHECKPOINTS  # noqa: E402
from rlcourse.lm.run_cache import ENV as RUN_CACHE  # noqa: E402

REDIRECT = """\
from pathlib import Path as _Path
import rlcourse.lm.checkpoints as _checkpoints
for _load in (_checkpoints.load_checkpoint, _checkpoints.load_reward_model):  # the defaults that name the shipped folder
    _load.__defaults__ = tuple(_Path({root!r}) if d == _checkpoints.CHECKPOINTS else d for d in _load.__defaults__)
"""
SOFT_ASSERTS = """\
def _redraw_check(ok, where, message):  # each assert of the page, recorded instead of raised
    if not ok:
        print("REDRAW-FAILED", where + ("" if message is None else f"  ->  {message()}"), flush=True)
"""
FOLDERS = ("addition-base", "addition-sft-careful", "addition-sft", "replies-base", "replies-sft",
           "replies-sft-large", "replies-rm", "replies-rm-small")
"""What ``make_checkpoints`` writes, in order."""


def uses_checkpoints(path: Path) -> bool:
    text = path.read_text()
    return "load_checkpoint" in text or "load_reward_model" in text


SHIPPED_ONLY = "# shipped checkpoints only"
"""Marks an assert about the shipped checkpoints' own files (e.g. that the page reproduces one exactly)."""


class _SoftAsserts(ast.NodeTransformer):
    """``assert test, message`` -> ``_redraw_check(test, "assert test, ...", lambda: message)``: a failed
    assert is printed and the page goes on, so every assert of a page is tried (they change no state).
    With ``redrawn``, an assert marked :data:`SHIPPED_ONLY` becomes ``pass``."""

    def __init__(self, source: str, redrawn: bool):
        self.source, self.redrawn = source, redrawn

    def visit_Assert(self, node: ast.Assert):
        if self.redrawn and SHIPPED_ONLY in self.source.splitlines()[node.lineno - 1]:
            return ast.copy_location(ast.Pass(), node)
        where = ast.get_source_segment(self.source, node).splitlines()[0].strip()
        no_args = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[])
        message = ast.Constant(None) if node.msg is None else ast.Lambda(args=no_args, body=node.msg)
        call = ast.Call(func=ast.Name("_redraw_check", ast.Load()), args=[node.test, ast.Constant(where), message],
                        keywords=[])
        return ast.copy_location(ast.Expr(call), node)


def soften(source: str, redrawn: bool = True) -> str:
    """A cell's source with its asserts recorded instead of raised (left as it is if it is not plain
    Python); on another draw (``redrawn``), without those about the shipped checkpoints' own files."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics
        return source
    if not any(isinstance(node, ast.Assert) for node in ast.walk(tree)):
        return source
    return ast.unparse(ast.fix_missing_locations(_SoftAsserts(source, redrawn).visit(tree)))


ACTIVATION = """\
import rlcourse.lm.models as _models
_models.FAST_GELU = {activation!r}  # what build_gpt builds and load_checkpoint loads with
"""


def run_page(path: Path, root: Path | None, save: Path | None = None,
             activation: str | None = None) -> tuple[float, list[str], str | None]:
    """Run a page against the checkpoints in ``root`` (``None``: the shipped ones): (seconds, the asserts
    that failed, the error that stopped the page or ``None`` if every cell ran). ``save``: where to write the
    executed notebook, outputs and all (its figures are what the asserts are about)."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = jupytext.read(path) if path.suffix == ".md" else nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = soften(cell.source, redrawn=root is not None)
    setup = SOFT_ASSERTS + ("" if root is None else REDIRECT.format(root=str(root)))
    setup += "" if activation is None else ACTIVATION.format(activation=activation)
    nb.cells.insert(0, nbformat.v4.new_code_cell(setup))
    start = time.perf_counter()
    error_text = None
    try:
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError as error:  # the traceback's last frame in the page's own cell: "Cell In[..]"
        text = re.sub(r"\x1b\[[0-9;]*m", "", error.traceback or str(error))
        frames = text.split("Cell In[")
        arrows = re.findall(r"^\s*-*>\s*\d+\s?(.*)$", frames[-1] if len(frames) > 1 else text, flags=re.M)
        line = arrows[0].strip() if arrows else "?"
        error_text = f"{line}  ->  {error.ename}: {error.evalue}".rstrip(": ")
    except Exception as error:  # a timeout, a dead kernel: the page did not run through either
        error_text = f"{type(error).__name__}: {error}"
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, save)
    failed = [line.removeprefix("REDRAW-FAILED ").strip()
              for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "stream" for line in out.get("text", "").splitlines()
              if line.startswith("REDRAW-FAILED ")]
    return time.perf_counter() - start, failed, error_text


def make_draw(root: Path, seed: int) -> None:
    """All the checkpoints, drawn with ``seed`` and ``models.FAST_GELU``'s activation, in ``root`` (kept if a
    complete draw of that seed and activation is there)."""
    from rlcourse.lm import models
    from rlcourse.lm.make_checkpoints import ReplySettings, Settings, make, make_replies

    metas = [root / name / "meta.json" for name in FOLDERS]
    if all(m.exists() for m in metas):
        seeds = {json.loads(m.read_text()).get("settings", {}).get("seed") for m in metas}
        activations = {json.loads(config.read_text())["activation_function"]  # the language models'
                       for config in (m.parent / "config.json" for m in metas) if config.exists()}
        if seeds == {seed} and activations == {models.FAST_GELU}:
            print(f"checkpoints drawn with seed {seed} ({models.FAST_GELU}) found in {root}\n", flush=True)
            return
        raise SystemExit(f"{root} holds a draw with seed(s) {sorted(seeds, key=str)} and {sorted(activations)}, "
                         f"not {seed} and {models.FAST_GELU}: give another --keep")
    start = time.perf_counter()
    make(Settings(seed=seed), root)
    make_replies(ReplySettings(seed=seed, comparison_seed=seed + 1), root)
    print(f"checkpoints drawn with seed {seed} in {time.perf_counter() - start:.0f} s: {root}\n", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pages", nargs="*", help="pages as <chapter>/<name> (default: every page that loads a checkpoint)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the other draw (0 without --activation: "
                        "no draw, the pages on the shipped checkpoints)")
    parser.add_argument("--activation", help="the draw's activation (transformers' name, e.g. gelu; default: "
                        "the shipped checkpoints' gelu_pytorch_tanh)")
    parser.add_argument("--jobs", type=int, default=2, help="pages executed at a time (default 2)")
    parser.add_argument("--keep", type=Path, help="make the draw in this folder and keep it, or reuse the draw there")
    parser.add_argument("--save", type=Path, help="write each executed page here (<chapter>/<name>[.shipped].ipynb)")
    parser.add_argument("--control", action="store_true", help="also run the pages on the shipped checkpoints, "
                        "in the same way (one thread each, the first cell without the redirection)")
    args = parser.parse_args()
    shipped = args.seed == 0 and args.activation is None  # the shipped draw itself: the pages as they are,
    # asserts soft (e.g. on a CPU whose kernels the checks were not set on)
    if shipped and args.control:
        parser.error("--seed 0 runs the shipped checkpoints already; --control would run them twice")
    if args.activation is not None:
        from rlcourse.lm import models
        models.FAST_GELU = args.activation  # make_draw's models
    every = pages()
    unknown = [p for p in args.pages if p not in every]
    if unknown:
        parser.error(f"no such page: {', '.join(unknown)} (pages: {', '.join(every)})")
    selected = {k: p for k, p in every.items() if (k in args.pages if args.pages else uses_checkpoints(p))}
    if args.keep and args.keep.resolve() == CHECKPOINTS.resolve():
        parser.error("--keep must not be the shipped checkpoints' folder")
    os.environ.update({name: "1" for name in ONE_THREAD})  # the kernels inherit it

    with tempfile.TemporaryDirectory() as tmp:
        root = None if shipped else (args.keep or Path(tmp)).resolve()  # the kernels run in each page's folder
        os.environ[RUN_CACHE] = str(Path(tmp) / "runs")  # pages share their runs, as in a book build (keyed
        # by the models' weights too: the two draws never share one)
        if not shipped:
            make_draw(root, args.seed)
        save = (lambda page, suffix: None) if args.save is None else (
            lambda page, suffix: args.save.resolve() / f"{page}{suffix}.ipynb")
        name = ".shipped" if shipped else f".seed{args.seed}" + ("" if args.activation is None else f".{args.activation}")
        runs = [(page, path, root, save(page, name), args.activation) for page, path in selected.items()]
        runs += [(f"{page} (shipped)", path, None, save(page, ".shipped"), None) for page, path in selected.items()
                 ] if args.control else []
        failed = {}
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(run_page, *run[1:]): run[0] for run in runs}
            for future in as_completed(futures):
                seconds, asserts, error = future.result()
                failed[futures[future]] = bool(asserts) or error is not None
                verdict = "every assert holds" if not failed[futures[future]] else f"{len(asserts)} asserts fail"
                print(f"{futures[future]:<50} {seconds:6.1f} s   {verdict}", flush=True)
                for line in asserts:
                    print(f"    {line}", flush=True)
                if error is not None:
                    print(f"    stopped by an error: {error}", flush=True)
    redrawn = [page for page in selected if failed[page]]
    print(f"\n{len(redrawn)} of {len(selected)} pages fail with the checkpoints of seed {args.seed}"
          + ("" if args.activation is None else f" ({args.activation})")
          + (f"; {sum(failed[f'{p} (shipped)'] for p in selected)} with the shipped ones" if args.control else ""))
    return 1 if redrawn else 0


if __name__ == "__main__":
    sys.exit(main())
