"""scripts/bench.py --quick runs, writes its two files, and reports finite ratios.

The benchmark measures; this test only checks that it runs end to end (no
timing is asserted: speed depends on the machine).
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Looked up, not imported: importing PySwarms writes report.log into the working directory.
_missing = [m for m in ("pyswarms", "sklearn", "matplotlib", "threadpoolctl") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"the bench extra is not installed: {_missing}")

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|-inf"


def markdown_rows(text: str, heading: str) -> list[list[str]]:
    """The body rows of the first table under a heading of BENCHMARKS.md, as cells."""
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # the header row dropped
    return [[c.strip() for c in line.strip("|").split("|")] for line in rows if not line.startswith("|---")]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench")
    out = work / "figures"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--out", str(out)],
                          cwd=work, capture_output=True, text=True, timeout=600)
    return work, out, proc


def test_quick_bench_runs_and_writes_both_files_atomically(quick_run):
    work, out, proc = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["BENCHMARKS.md", "benchmarks.png"]  # no temp files left
    assert (out / "benchmarks.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    text = (out / "BENCHMARKS.md").read_text(encoding="utf-8")
    for heading in ("## Machine", "## Time ratios", "## Speed-ups and budgets", "## 1.", "## 2.", "## 3.", "## 4.",
                    "## 5.", "## 6.", "GPU"):
        assert heading in text
    assert "benchmarks.png" in text and "Quick run" in text
    # PySwarms writes report.log into its working directory: never into the caller's
    assert not (work / "report.log").exists()


def test_quick_bench_ratios_are_finite_and_printed_as_written_and_judge_nothing(quick_run):
    _, out, proc = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = markdown_rows((out / "BENCHMARKS.md").read_text(encoding="utf-8"), "## Time ratios")
    # 3 swarm shapes × 2 dtypes and 2 backprop shapes, in 2 environments, and the kernel row for each dtype
    assert len(rows) == 2 * (6 + 2) + 2
    for what, env, ours, other, unit, ratio, target, met in rows:
        assert env in ("default", "pinned")
        assert re.fullmatch(NUMBER, ratio), (what, ratio)
        value = float(ratio)
        assert math.isfinite(value) and value > 0, (what, ratio)
        # the ratio is swarmreg's time over the other's, as the header says
        assert value == pytest.approx(float(ours) / float(other), rel=0.01, abs=0.002), (what, ours, other, ratio)
        assert target == "" and met == "", "a quick run judges no target"
        printed = [line for line in proc.stdout.splitlines() if line.startswith(what + " ") and f" {env} " in line]
        assert len(printed) == 1 and f" {value:.3f} " in printed[0] + " ", (what, printed)
    # the sweep's speed-up needs a real sweep: not in quick mode
    others = markdown_rows((out / "BENCHMARKS.md").read_text(encoding="utf-8"), "## Speed-ups and budgets")
    assert [r[1] for r in others] == ["budget"]
    machine = proc.stdout.split("machine:", 1)[1].splitlines()[0]
    assert "cores" in machine and "numpy" in machine and "BLAS" in machine and "backend" in machine


def test_quick_bench_without_out_never_writes_the_committed_figures(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_script", ROOT / "scripts" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    quick, again = bench.output_folder(None, quick=True), bench.output_folder(None, quick=True)
    try:
        assert quick.is_dir() and not any(quick.iterdir())
        assert quick.resolve() != (ROOT / "figures").resolve()
        assert again != quick   # a new folder each time
    finally:
        quick.rmdir()
        again.rmdir()
    assert bench.output_folder(None, quick=False) == ROOT / "figures"
    assert bench.output_folder(tmp_path, quick=True) == tmp_path.resolve()
