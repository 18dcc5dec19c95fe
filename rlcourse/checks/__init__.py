"""Exercise checks: run a student's function on stored cases and say precisely what differs.

Every auto-graded exercise of the course is checked the same way. The chapter's visible cases, their
expected outputs and the outputs of known mistakes are stored in ``snapshots/<chapter>.json`` (made
by ``python -m autograde sync`` from the reference solutions), so the checks work for a student who
has only the released notebook and this package. Hidden cases travel packed inside the hidden test
cells of the instructor's notebook and only ever run during grading.

A failed check raises :class:`CheckFailed` (an ``AssertionError``, so nbgrader scores the cell 0) whose
message names the exercise, the case, what was expected, what came back and, when the answer equals
the output of a known mistake, that mistake. An answer that raises is named the same way when a known
mistake raises the same error on the same case: the same exception type *and* message (the type alone
would blame a known mistake for any unrelated ``TypeError``). Hidden cases report no inputs or
expected values, so feedback never reveals them.
"""

from __future__ import annotations

import json
import os
import site
import sys
import sysconfig
import traceback
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rlcourse.checks import adapters
from rlcourse.checks.encoding import decode, encode, pack, unpack

SNAPSHOTS = Path(__file__).parent / "snapshots"

__all__ = ["check", "CheckFailed", "compare", "report"]


class CheckFailed(AssertionError):
    """An exercise check failed; the message says why."""

    def _render_traceback_(self) -> list[str]:
        """What IPython (Jupyter) shows for this error: the check's message, no traceback through the
        course's own code (the student's own code, when it raised, is quoted in the message)."""
        return str(self).splitlines()


@lru_cache(maxsize=None)
def _snapshot(chapter: str) -> dict:
    path = SNAPSHOTS / f"{chapter}.json"
    if not path.exists():
        raise FileNotFoundError(f"no stored checks for chapter {chapter!r} ({path}); is rlcourse up to date?")
    return json.loads(path.read_text())


def check(fn, exercise: str, hidden: str | None = None) -> None:
    """Check ``fn`` against the stored cases of ``exercise`` ("<chapter>/<function name>").

    Args:
        fn: the student's function.
        exercise: e.g. ``"01-mdp/discounted_return"``.
        hidden: packed hidden cases (only in the instructor's test cells); ``None`` for the visible ones.

    Raises:
        CheckFailed: on the first case whose output differs from the reference.

    Example:
        >>> check(discounted_return, "01-mdp/discounted_return")  # doctest: +SKIP
        ✓ discounted_return: all 4 visible cases match the reference.
    """
    __tracebackhide__ = True  # keep tracebacks short in IPython
    chapter, _, name = exercise.partition("/")
    if not callable(fn):
        raise CheckFailed(f"{name} should be a function, but it is {type(fn).__name__}.")
    if hidden is None:
        spec, kind = _snapshot(chapter)["exercises"][name], "visible"
    else:
        spec, kind = unpack(hidden), "hidden"
    call = adapters.get(spec.get("adapter"))
    for i, case in enumerate(spec["cases"], start=1):
        try:
            result = {"output": call(fn, decode(case["args"]))}
        except NotImplementedError:
            result = {"error": "not implemented"}
        except Exception as exc:  # the student's code raised: say where
            result = {"error": error_text(exc) + _student_frame(exc)}
        verdict = judge_case(name, kind, spec, i, result)
        if verdict is not None:
            raise CheckFailed(verdict)
    print(passed_message(name, kind, len(spec["cases"])))


def passed_message(name: str, kind: str, n: int) -> str:
    return f"✓ {name}: all {n} {kind} cases match the reference."


@dataclass(frozen=True)
class Verdict:
    """How one case of a check went, as data: what the student reads and what grading records.

    ``outcome`` is ``"passed"``, ``"wrong"`` (an output that differs), ``"raised"`` (the function raised)
    or ``"not implemented"`` (the stub). ``mistake`` is the name of the known mistake the message names
    (``None`` if none explains the answer). ``detail`` is for the instructor only and only for a wrong
    answer or an error no known mistake explains: how the output differs, expected values included even
    for a hidden case, or the error's type and message, without the quoted line of the student's code.
    """

    outcome: str
    message: str | None = None
    mistake: str | None = None
    detail: str | None = None


DETAIL_CHARS = 200
"""The most characters a verdict's ``detail`` keeps."""


def judge_case(name: str, kind: str, spec: dict, i: int, result: dict) -> str | None:
    """``None`` if case ``i`` (from 1) of ``spec`` passed, else the message saying why it failed.

    ``result`` is ``{"output": value}`` or ``{"error": text}`` (the function raised; ``"not
    implemented"`` for the stub). Used in the student's kernel by :func:`check` and, when grading,
    outside it on the outputs that :func:`report` sent (through :func:`judge`, which says the same as data).
    """
    return judge(name, kind, spec, i, result).message


def judge(name: str, kind: str, spec: dict, i: int, result: dict) -> Verdict:
    """The :class:`Verdict` on case ``i`` (from 1) of ``spec``: :func:`judge_case`'s message and what it found."""
    cases = spec["cases"]
    case = cases[i - 1]
    where = (f"{name}, {kind} case {i} of {len(cases)}" +
             (f": {name}({describe_args(decode(case['args']), case.get('order'))})" if kind == "visible" else ""))
    if "error" in result:
        if result["error"] == "not implemented":
            return Verdict("not implemented", f"✗ {where}\n  {name} is not implemented yet: replace "
                           "`raise NotImplementedError()` with your code.")
        error = str(result["error"]).split(_FRAME, 1)[0]  # without the quoted line of the student's code
        same = [m for m, m_error in case.get("mistake_errors", {}).items() if m_error == error]
        return Verdict("raised", f"✗ {where}\n  {name} raised {result['error']}" + _likely(spec, same),
                       mistake=same[0] if same else None, detail=None if same else _one_line(error))
    out = result["output"]
    rtol, atol = spec.get("rtol", 1e-6), spec.get("atol", 1e-8)
    expected = decode(case["expected"])
    diff = compare(out, expected, rtol=rtol, atol=atol, reveal=(kind == "visible"))
    if diff is None:
        return Verdict("passed")
    same = [m for m, m_out in case.get("mistakes", {}).items()
            if compare(out, decode(m_out), rtol=rtol, atol=atol) is None]
    detail = None if same else _one_line(f"{kind} case {i}: {compare(out, expected, rtol=rtol, atol=atol)}")
    return Verdict("wrong", f"✗ {where}\n  {diff}" + _likely(spec, same), mistake=same[0] if same else None,
                   detail=detail)


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 3] + "..."


def _likely(spec: dict, mistakes: list[str]) -> str:
    """The line naming the first of the known mistakes whose output (or error) the answer's matches."""
    return f"\n  Likely mistake: {spec['mistake_messages'][mistakes[0]]}" if mistakes else ""


def error_text(exc: BaseException) -> str:
    """How a check reports an exception, and how ``autograde sync`` stores a known mistake's: 'Type: message'."""
    return f"{type(exc).__name__}: {exc}"


REPORT_MIME = "application/vnd.rlcourse.report+json"
"""The output type in which :func:`report` sends a function's outputs to the grader."""


def inputs_only(spec: dict) -> str:
    """The packed inputs of a spec's cases, without expected values or mistakes (what a grading kernel gets)."""
    return pack({"adapter": spec.get("adapter"), "args": [case["args"] for case in spec["cases"]]})


def report(fn, exercise: str, inputs: str) -> None:
    """Grading only: run ``fn`` on packed inputs and send its outputs to the grader, which compares them.

    The grader (``autograde.nbgrader_ext``) puts this call in place of each test cell's ``check``, so
    the expected values never enter the student's kernel and nothing the kernel does can change how
    its outputs are judged.
    """
    from IPython.display import display

    spec = unpack(inputs)
    call = adapters.get(spec.get("adapter"))
    results = []
    for args in spec["args"]:
        try:
            out = call(fn, decode(args))
        except NotImplementedError:
            results.append({"error": "not implemented"})
            continue
        except Exception as exc:
            results.append({"error": error_text(exc) + _student_frame(exc)})
            continue
        try:
            results.append({"output": encode(out)})
        except Exception as exc:
            results.append({"error": f"a value that cannot be compared ({type(exc).__name__}: {exc})"})
    display({REPORT_MIME: {"exercise": exercise, "results": results}}, raw=True)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
"""This support package's folder: frames in it are the course's code, not the student's (a folder of
the student's may well have "rlcourse" in its name)."""
_LIBRARIES = tuple(sorted({os.path.normcase(os.path.abspath(folder)) + os.sep for folder in (
    *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")),
    *site.getsitepackages(), site.getusersitepackages(),
    *(p for p in sys.path if os.path.basename(p.rstrip(os.sep)) in ("site-packages", "dist-packages")))}))
"""Where the interpreter finds the standard library and installed packages (numpy's or torch's frames):
its own folders, the user's and the system's site-packages, and any package folder on ``sys.path``."""
_FRAME = "\n  (in your code, line "
"""Starts the part of an error's text that quotes the student's code (see :func:`_student_frame`)."""


def _student_frame(exc: BaseException) -> str:
    """'(in your code, line 7: x = T[s]...)' for the innermost frame of the notebook's own code, if any."""
    course_or_library = (os.path.normcase(_PACKAGE), *_LIBRARIES)
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.normcase(os.path.abspath(f.filename)).startswith(course_or_library)]
    if not frames:
        return ""
    f = frames[-1]
    return f"{_FRAME}{f.lineno}: {f.line})"


def describe_args(args: dict, order: list | None = None) -> str:
    return ", ".join(f"{k}={_short(args[k])}" for k in (order or args))


def _short(v, limit: int = 60) -> str:
    if isinstance(v, np.ndarray) or type(v).__name__ == "Tensor":
        a = _to_numpy(v)
        if a.size <= 12:
            text = np.array2string(a, precision=4, separator=", ").replace("\n", "")
            return text if len(text) <= limit else f"array of shape {a.shape}"
        return f"array of shape {tuple(a.shape)}"
    if isinstance(v, (list, tuple)) and len(v) > 6:
        return f"{type(v).__name__} of length {len(v)}"
    text = " ".join(repr(v).split())  # one line, however the object prints itself
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _to_numpy(x) -> np.ndarray:
    if type(x).__name__ == "Tensor":
        return x.detach().cpu().numpy()
    return np.asarray(x)


def compare(out, expected, rtol: float = 1e-6, atol: float = 1e-8, reveal: bool = True) -> str | None:
    """``None`` if ``out`` matches ``expected``, else one sentence saying how they differ.

    Arrays and tensors are compared by shape, then with ``np.allclose(rtol, atol)``; tuples and lists
    element by element; dicts key by key, in the order ``out`` has them (the order the exercise or its
    check's adapter builds them in) with gradients last, so a wrong value is reported before the wrong
    gradient it causes; numbers with the same tolerances. With ``reveal=False`` the sentence gives no
    expected values (for hidden cases).
    """
    if isinstance(expected, tuple) or (isinstance(expected, list) and not _is_numeric_list(expected)):
        if not isinstance(out, (tuple, list)):
            return f"expected a {type(expected).__name__} of {len(expected)} items, got {type(out).__name__}."
        if len(out) != len(expected):
            return f"expected {len(expected)} items, got {len(out)}."
        for k, (o, e) in enumerate(zip(out, expected)):
            d = compare(o, e, rtol, atol, reveal)
            if d is not None:
                return f"item {k}: {d}"
        return None
    if isinstance(expected, dict):
        if not isinstance(out, dict):
            return f"expected a dict, got {type(out).__name__}."
        if set(out) != set(expected):
            return f"expected keys {sorted(expected)}, got {sorted(out)}."
        for k in sorted(out, key=lambda k: k.startswith("gradient")):  # stable: otherwise out's own order
            d = compare(out[k], expected[k], rtol, atol, reveal)
            if d is not None:
                return f"[{k!r}]: {d}"
        return None
    if isinstance(expected, str):
        if out != expected:
            return f"expected {expected!r}, got {_short(out)}." if reveal else "the text differs."
        return None
    # numbers, arrays and tensors
    try:
        o = _to_numpy(out).astype(float)
    except (TypeError, ValueError):
        return f"expected a number or an array, got {type(out).__name__}: {_short(out)}."
    e = _to_numpy(expected).astype(float)
    if o.shape != e.shape:
        return f"expected shape {e.shape}, got shape {o.shape}."
    if e.ndim == 0:
        if np.allclose(o, e, rtol=rtol, atol=atol, equal_nan=True):
            return None
        return f"expected {e.item():.6g}, got {o.item():.6g}." if reveal else f"the value is wrong (got {o.item():.6g})."
    ok = np.isclose(o, e, rtol=rtol, atol=atol, equal_nan=True)
    if ok.all():
        return None
    bad = np.argwhere(~ok)
    idx = tuple(int(i) for i in bad[0])
    text = f"{len(bad)} of {e.size} entries differ"
    if not reveal:
        return text + "."
    text += f"; first at index {idx}: expected {e[idx]:.6g}, got {o[idx]:.6g}."
    if e.size <= 12:
        text += (f"\n  expected: {np.array2string(e, precision=4, separator=', ')}"
                 f"\n  got:      {np.array2string(o, precision=4, separator=', ')}")
    return text


def _is_numeric_list(x: list) -> bool:
    return all(isinstance(v, (int, float, np.number)) or isinstance(v, list) and _is_numeric_list(v) for v in x)
