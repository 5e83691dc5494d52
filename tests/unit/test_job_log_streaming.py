"""A notebook job's log shows each cell's output as it runs (session/execute.py)."""

import subprocess
import sys
import time

import nbformat


def test_the_job_log_streams_cell_output_while_the_notebook_runs(tmp_path):
    # Given a notebook whose first cell prints, then waits, and whose second cell fails
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import sys, time\nprint('step one')\nprint('warned', file=sys.stderr)\ntime.sleep(4)"
        ),
        nbformat.v4.new_code_cell("1 / 0"),
    ]
    path = tmp_path / "train.ipynb"
    nbformat.write(nb, str(path))

    # When it runs the way a job runs it
    log = tmp_path / "output.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_workbench.session.execute",
                str(path),
                "--output",
                str(tmp_path / "train.output.ipynb"),
                "--kernel",
                "python3",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            # Then the first cell's output is in the log while that cell still runs
            deadline = time.monotonic() + 60
            while "step one" not in log.read_text():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            assert proc.poll() is None, "the output should arrive before the notebook ends"
            assert proc.wait(60) == 1
        finally:
            proc.kill()
    text = log.read_text()
    # and the log has both streams, the cell markers and the error with its traceback
    assert "warned" in text and "[workbench] cell 1/2" in text and "[workbench] cell 2/2" in text
    assert "ZeroDivisionError" in text
