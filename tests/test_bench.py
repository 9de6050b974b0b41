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


def markdown_ratios(text: str) -> dict[str, str]:
    """The "Ratios" table of BENCHMARKS.md: comparison -> ratio cell."""
    section = text.split("## Ratios (swarmreg / other)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| comparison")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in rows]
    return {c[0]: c[4] for c in cells}


def printed_ratios(stdout: str, names) -> dict[str, str]:
    """The ratio column of the table printed to stdout, for the same comparisons."""
    out = {}
    for line in stdout.splitlines():
        for name in names:
            if line.startswith(name + " "):
                fields = line[len(name):].split()
                # swarmreg, other, unit, ratio, target..., met
                out[name] = fields[3]
    return out


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
    for heading in ("## Machine", "## Ratios", "## 1.", "## 2.", "## 3.", "## 4.", "## 5."):
        assert heading in text
    assert "benchmarks.png" in text
    # PySwarms writes report.log into its working directory: never into the caller's
    assert not (work / "report.log").exists()


def test_quick_bench_ratios_are_finite_and_printed_as_written(quick_run):
    _, out, proc = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = markdown_ratios((out / "BENCHMARKS.md").read_text(encoding="utf-8"))
    # one row per target: swarm speed (2), final loss (2), kernel (2), backprop (2), sweep (2), memory (1)
    assert len(written) == 11
    printed = printed_ratios(proc.stdout, written)
    assert printed.keys() == written.keys()
    for name, cell in written.items():
        assert re.fullmatch(NUMBER, cell), (name, cell)
        value = float(cell)
        assert math.isfinite(value) and value > 0, (name, cell)
        assert float(printed[name]) == value, (name, printed[name], cell)
    machine = proc.stdout.split("machine:", 1)[1].splitlines()[0]
    assert "cores" in machine and "numpy" in machine and "BLAS" in machine
