"""Warm-up covers every kernel module, and ``import dsp`` stays cheap (no numba)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from dsp import warmup

ROOT = Path(__file__).resolve().parents[2]


def test_kernel_modules_are_all_listed() -> None:
    expected = {"g711", "g722", "resample", "mix", "level", "tones", "dtmf"}
    assert {name.removeprefix("dsp.") for name in warmup.KERNEL_MODULES} == expected
    # Every dsp module that uses numba is warmed (directly, or by the module it helps).
    for path in (ROOT / "dsp").glob("*.py"):
        if "import numba" in path.read_text():
            assert any(path.stem == m or path.stem.startswith(m + "_") for m in expected), path


def test_every_kernel_module_has_warm_up() -> None:
    for name in warmup.KERNEL_MODULES:
        module = importlib.import_module(name)
        assert callable(module.warm_up), name
        assert "warm_up" in module.__all__, name


def test_warm_up_reports_the_seconds_it_took() -> None:
    seconds = warmup.warm_up()
    assert isinstance(seconds, float)
    assert 0.0 < seconds < 120.0


def test_importing_dsp_does_not_import_numba() -> None:
    code = "import sys, dsp; print('numba' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
