"""The fast grader's cell runner: runs a submission's planned cells inside the grading sandbox.

The grading worker (``autograde/grade.py``) starts ``python -c <this file's text>`` in the same
bubblewrap sandbox as nbgrader's grading kernels (``autograde/sandbox.py``), writes the job to its
stdin and reads one JSON line per event from the file descriptor named in the job:
``{"start": i}`` before cell ``i`` runs, then ``{"index": i, "outputs": [...], "execution_count": n,
"status": "ok" | "error", "ename": ...}`` in nbformat's output format, and ``{"done": true}``.

It is what an IPython kernel does for nbclient, without the kernel's messaging: an IPython shell (so
magics, ``display`` and ``get_ipython()`` behave as in a notebook) whose displays, results, streams and
tracebacks are recorded per cell. A cell that runs past the time limit is interrupted as nbgrader
interrupts a kernel (``KeyboardInterrupt`` in the running code) and gets the error nbgrader records;
if it does not stop, the worker kills the runner and falls back to nbgrader. Nothing here is trusted: the student's code runs in this process and
could write anything to the channel. The worker only accepts well-formed events for the cells it
asked for, and the grades come from the reported outputs, judged in the grading process.
"""

import io
import json
import os
import signal
import sys

MAX_STREAM_CHARS = 2_000_000  # per cell and stream; nbgrader's LimitOutput keeps far less


def main() -> None:
    job = json.loads(sys.stdin.read())
    channel = os.fdopen(job["channel"], "w", buffering=1)
    os.environ["MPLBACKEND"] = "Agg"

    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    outputs: list[dict] = []

    class Stream(io.TextIOBase):
        def __init__(self, name):
            self.name = name

        def writable(self):
            return True

        def write(self, text):
            text = str(text)
            last = outputs[-1] if outputs else None
            if last is not None and last["output_type"] == "stream" and last["name"] == self.name:
                if len(last["text"]) < MAX_STREAM_CHARS:
                    last["text"] += text[:MAX_STREAM_CHARS]
            else:
                outputs.append({"output_type": "stream", "name": self.name, "text": text[:MAX_STREAM_CHARS]})
            return len(text)

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            outputs.append({"output_type": "display_data", "data": data, "metadata": metadata or {}})

        def clear_output(self, wait=False):
            outputs.clear()

    class Hook(DisplayHook):
        def start_displayhook(self):
            self._result = {"output_type": "execute_result", "data": {}, "metadata": {},
                            "execution_count": self.prompt_count}

        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            self._result["data"], self._result["metadata"] = format_dict, md_dict or {}

        def finish_displayhook(self):
            outputs.append(self._result)

    class Shell(InteractiveShell):
        def _showtraceback(self, etype, evalue, stb):
            outputs.append({"output_type": "error", "ename": getattr(etype, "__name__", str(etype)),
                            "evalue": str(evalue), "traceback": list(stb)})

    shell = Shell.instance(colors="NoColor", history_length=0, displayhook_class=Hook, display_pub_class=Publisher)
    shell.history_manager.enabled = False
    sys.stdout, sys.stderr = Stream("stdout"), Stream("stderr")
    timed_out = []

    def interrupt(signum, frame):  # what an interrupted kernel does: KeyboardInterrupt in the running code
        timed_out.append(True)
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, interrupt)
    for index, source in job["cells"]:
        channel.write(json.dumps({"start": index}) + "\n")
        outputs.clear()
        timed_out.clear()
        signal.setitimer(signal.ITIMER_REAL, job["timeout"])
        try:
            result = shell.run_cell(source, store_history=True)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if timed_out:  # as nbgrader's Execute records a cell that ran past its time limit
            outputs.append({"output_type": "error", "ename": "CellTimeoutError", "evalue": "",
                            "traceback": ["\x1b[0;31mCellTimeoutError\x1b[0m: No reply from kernel before timeout"]})
        error = result.error_before_exec or result.error_in_exec
        if error is not None and not any(o["output_type"] == "error" for o in outputs):
            outputs.append({"output_type": "error", "ename": type(error).__name__, "evalue": str(error),
                            "traceback": ["ERROR: An error occurred while showtraceback was disabled"]})
        event = {"index": index, "outputs": list(outputs), "execution_count": result.execution_count,
                 "status": "ok" if error is None else "error"}
        if error is not None:
            event["ename"] = type(error).__name__
        try:
            line = json.dumps(event, default=repr)
        except (TypeError, ValueError) as exc:  # e.g. a display bundle that is not JSON
            line = json.dumps({"index": index, "outputs": [], "execution_count": result.execution_count,
                               "status": "unreadable", "ename": type(exc).__name__})
        channel.write(line + "\n")
    channel.write(json.dumps({"done": True}) + "\n")
    channel.flush()
    os._exit(0)  # no interpreter shutdown: nothing the submission registered runs after its cells


main()
