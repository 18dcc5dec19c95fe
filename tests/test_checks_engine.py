"""The check engine's comparisons, encodings and messages."""

import numpy as np
import pytest
import torch

from autograde.specs import CHAPTERS
from rlcourse.checks import CheckFailed, _snapshot, check, compare, judge_case
from rlcourse.checks.encoding import decode, encode, pack, unpack
from rlcourse.envs import GridSpec, GridWorld
from rlcourse.reference import ch06_rlhf as ref


def test_encoding_round_trips():
    env = GridWorld(GridSpec(rows=2, cols=3, start=(1, 0), goal=(0, 2), walls=((0, 0),), slip=0.3))
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "t": torch.tensor([[1.5, -2.0]]),
             "tup": (1, 2.5, "x"), "env": env, "n": None}
    back = decode(unpack(pack(encode(value))))
    assert back["a"].dtype == np.float32 and np.array_equal(back["a"], value["a"])
    assert torch.equal(back["t"], value["t"]) and back["tup"] == (1, 2.5, "x")
    assert back["env"].to_spec() == env.to_spec() and back["n"] is None


def test_decode_refuses_foreign_classes():
    for name in ("os:system", "rlcourse.lm.make_checkpoints:main", "rlcourse.envs.gridworld:np"):
        with pytest.raises(ValueError, match="not a class a case may hold"):
            decode({"__object__": name, "spec": {}})


def test_decoding_what_a_kernel_sent_is_bounded():
    """The grader decodes outputs a student's kernel produced: numeric dtypes only, as many values as the
    shape says, a bounded size, and no object at all."""
    from rlcourse.checks.encoding import MAX_ELEMENTS, decode_untrusted

    assert decode_untrusted(encode(np.arange(6.0).reshape(2, 3))).shape == (2, 3)
    assert decode_untrusted(encode(np.zeros((0, 4)))).shape == (0, 4)
    refused = [
        {"__array__": ["x"] * 1000, "dtype": "U100000", "shape": [1000]},   # 400 kB per element
        {"__array__": [1.0], "dtype": "object", "shape": [1]},
        {"__tensor__": [1.0], "dtype": "load", "shape": [1]},               # any attribute of torch
        {"__array__": [1.0, 2.0], "dtype": "float64", "shape": [10**6, 10**6]},
        {"__array__": [[1.0], [2.0, 3.0]], "dtype": "float64", "shape": [2]},
        {"__array__": [], "dtype": "float64", "shape": [MAX_ELEMENTS + 1, 0, -1]},
        {"__array__": [{"__object__": "os:system"}], "dtype": "float64", "shape": [1]},
        {"__object__": "rlcourse.envs.gridworld:GridWorld", "spec": {}},  # a case may; a kernel may not
    ]
    for data in refused:
        with pytest.raises(ValueError, match="refusing"):
            decode_untrusted(data)


def test_compare_messages():
    assert compare(np.ones(3), np.ones(3)) is None
    assert "expected shape (3,), got shape (4,)" in compare(np.ones(4), np.ones(3))
    assert "1 of 3 entries differ; first at index (2,)" in compare(np.array([1, 1, 5.0]), np.ones(3))
    assert compare(2.0, 1.0) == "expected 1, got 2."
    assert "expected 1" not in compare(2.0, 1.0, reveal=False)
    assert "item 1" in compare((1.0, 2.0), (1.0, 3.0))
    assert "expected a number" in compare("abc", 1.0)
    assert compare(torch.tensor([1.0, 2.0]), np.array([1.0, 2.0])) is None


def test_a_dict_output_is_compared_value_first_then_gradients():
    """Gradients come last whatever the order of the keys, so a wrong loss is reported as the loss."""
    expected = {"gradient of the loss w.r.t. x": np.array([0.5, -0.5]), "loss": np.array(0.3)}
    for out in ({"gradient of the loss w.r.t. x": -expected["gradient of the loss w.r.t. x"], "loss": np.array(-0.3)},
                {"loss": np.array(-0.3), "gradient of the loss w.r.t. x": -expected["gradient of the loss w.r.t. x"]}):
        assert compare(out, expected) == "['loss']: expected 0.3, got -0.3."
    # otherwise the order the answer (or the check's adapter) built the dict in
    assert compare({"b": 1.0, "a": 1.0}, {"a": 2.0, "b": 2.0}).startswith("['b']")


def _message(name: str, mistake: str) -> str:
    return next(m.message for m in CHAPTERS["06-rlhf"].exercise(name).mistakes if m.name == mistake)


def test_a_negated_ranking_loss_is_named_and_its_loss_reported_before_its_gradient():
    def ranking_loss(rewards, ranking):
        return -ref.ranking_loss(rewards, ranking)  # the dropped minus sign

    with pytest.raises(CheckFailed) as failed:
        check(ranking_loss, "06-rlhf/ranking_loss")
    text = str(failed.value)
    assert "['loss']: expected 0.313262, got -0.313262." in text and "gradient" not in text
    assert f"Likely mistake: {_message('ranking_loss', 'negated_loss')}" in text


def test_a_raising_answer_is_named_by_the_mistake_that_raises_the_same_error():
    def ranking_loss(rewards, ranking):
        ranked = rewards.gather(1, ranking)  # the -1 padding as an index: gather raises
        return ref.ranking_loss(rewards, ranking) + 0 * ranked.sum()

    with pytest.raises(CheckFailed) as failed:
        check(ranking_loss, "06-rlhf/ranking_loss")
    text = str(failed.value)
    assert "raised RuntimeError: index -1 is out of bounds" in text and "(in your code, line" in text
    assert f"Likely mistake: {_message('ranking_loss', 'gathers_padding')}" in text

    def gae(rewards, values, mask, gamma=1.0, lam=0.95):
        return values[:, rewards.shape[1]], None  # reads one past the end, as the known mistake does

    with pytest.raises(CheckFailed) as failed:
        check(gae, "06-rlhf/gae")
    assert f"Likely mistake: {_message('gae', 'reads_past_the_end')}" in str(failed.value)


def test_an_error_is_named_only_when_type_and_message_are_the_known_mistakes():
    spec = _snapshot("06-rlhf")["exercises"]["ranking_loss"]
    stored = spec["cases"][2]["mistake_errors"]["gathers_padding"]
    named = f"Likely mistake: {spec['mistake_messages']['gathers_padding']}"
    # as the grader judges what a grading kernel reported (autograde.nbgrader_ext.JudgeReports)
    assert named in judge_case("ranking_loss", "visible", spec, 3, {"error": stored + "\n  (in your code, line 4: x)"})
    for other in ("RuntimeError: shape mismatch", "IndexError" + stored.partition(":")[2]):
        assert "Likely mistake" not in judge_case("ranking_loss", "visible", spec, 3, {"error": other})


def test_a_failed_check_shows_its_message_in_jupyter_not_a_traceback():
    with pytest.raises(CheckFailed) as failed:
        check(lambda rewards, gamma: 123.0, "01-mdp/discounted_return")
    assert failed.value._render_traceback_() == str(failed.value).splitlines()


def test_the_students_line_is_quoted_whatever_their_folders_are_called(tmp_path):
    """Library frames are told apart by the interpreter's installation folders, not by a word in the path."""
    from rlcourse.checks import _student_frame

    path = tmp_path / "site-packages notes" / "rlcourse-homework" / "answer.py"
    path.parent.mkdir(parents=True)
    path.write_text("import numpy as np\n\n\ndef f():\n    return np.linalg.inv(np.zeros((2, 2)))\n")
    namespace = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    with pytest.raises(np.linalg.LinAlgError) as raised:  # raised inside numpy's own Python code
        namespace["f"]()
    assert _student_frame(raised.value) == "\n  (in your code, line 5: return np.linalg.inv(np.zeros((2, 2))))"
