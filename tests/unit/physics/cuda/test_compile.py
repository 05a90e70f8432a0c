"""Every CUDA kernel compiled for sm_80 and sm_90 on the CPU (NVVM and ptxas from PyPI), and judged.

The other CUDA tests run the kernels on the simulator, which never compiles them; this one proves
that they compile for real hardware, keep to the register and local-memory floor, and that the force
loops stay lean. The compile runs in a subprocess, since this process has the simulator switched on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (pip install -e .[dev])")
if os.environ.get("GPU_CHECK_OUT"):
    pytest.skip("inside bench/gpu_check.sh the device runs the kernels; the suite compiles them without one",
                allow_module_level=True)  # fmt: skip

from visionflow.physics.cuda import compile_check
from visionflow.physics.cuda.compile_check import OCCUPANCY_FLOOR, Resources

SRC = Path(__file__).resolve().parents[4] / "src"


@pytest.fixture(scope="module")
def reports() -> list[dict[str, object]]:
    missing = compile_check.missing_library()
    if missing:
        pytest.skip(f"cannot compile CUDA kernels here: {missing} is missing")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = str(SRC)
    done = subprocess.run([sys.executable, "-m", "visionflow.physics.cuda.compile_check", "--json"], env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: list[dict[str, object]] = json.loads(done.stdout)
    return result


def test_every_kernel_compiles_for_a100_and_h100(reports: list[dict[str, object]]) -> None:
    names = {spec.name for spec in _specs()}
    assert {(r["name"], r["target"]) for r in reports} == {(n, t) for n in names for t in ("sm_80", "sm_90")}
    assert [r for r in reports if r["failures"]] == []


def test_hot_kernels_keep_registers_and_local_memory_in_bounds(reports: list[dict[str, object]]) -> None:
    hot = [r for r in reports if r["hot"]]
    assert {r["name"] for r in hot} >= {"repulsion_exact", "integrate", "repulsion_multipole", "repulsion_near"}
    for r in hot:
        resources = r["resources"]
        assert isinstance(resources, dict)
        assert resources["spill_stores"] == resources["spill_loads"] == resources["stack_frame"] == 0, r["name"]
        assert isinstance(r["occupancy"], float) and r["occupancy"] >= OCCUPANCY_FLOOR, r["name"]


def test_force_loops_take_one_special_function_op_and_about_twenty_instructions(
    reports: list[dict[str, object]],
) -> None:
    loops = {(r["name"], r["target"]): r["loops"] for r in reports}
    for target in ("sm_80", "sm_90"):
        exact = loops[("repulsion_exact", target)]
        far, near = loops[("repulsion_multipole", target)]  # type: ignore[misc]
        assert isinstance(exact, list) and isinstance(far, dict) and isinstance(near, dict)
        assert [loop["mufu_per_pair"] for loop in exact] == [1, 1]  # was 2: sqrt then a division
        assert max(loop["per_pair"] for loop in exact) <= 22  # was 33
        assert far["per_pair"] <= 22 and far["mufu_per_pair"] == 1  # was 47
        assert near["per_pair"] <= 28 and near["mufu_per_pair"] == 1  # was 33


def _specs() -> list[compile_check.KernelSpec]:
    """The registry as this process sees it (on the simulator: the same names, other objects)."""
    return compile_check.kernel_specs()


# The judging itself, on made-up figures: the check must be able to fail.


def test_ptxas_output_is_read_for_registers_spills_and_shared_memory() -> None:
    log = """ptxas info    : Compiling entry function '_Z6kernel' for 'sm_90'
ptxas info    : Function properties for _Z6kernel
    16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 72 registers, used 1 barriers, 768 bytes smem, 400 bytes cmem[0]"""
    assert compile_check.parse_ptxas(log) == Resources(registers=72, spill_stores=8, spill_loads=4, stack_frame=16,
                                                       shared=768)  # fmt: skip


@pytest.mark.parametrize(
    ("registers", "threads", "shared", "expected"),
    [(32, 64, 768, 1.0), (39, 64, 768, 50 / 64), (64, 128, 0, 0.5), (72, 128, 0, 28 / 64), (128, 128, 0, 0.25)],
)
def test_occupancy_follows_registers_and_block_size(registers: int, threads: int, shared: int, expected: float) -> None:
    resources = Resources(registers=registers, spill_stores=0, spill_loads=0, stack_frame=0, shared=shared)
    assert compile_check.occupancy(resources, threads, (9, 0)) == pytest.approx(expected)


def test_spills_low_occupancy_and_fat_loops_fail_a_hot_kernel() -> None:
    spec = compile_check.KernelSpec("k", None, (), 128, True, (("pair", 22),))
    report = compile_check.KernelReport("k", "sm_90", 128, True)
    report.resources = Resources(registers=96, spill_stores=8, spill_loads=8, stack_frame=16, shared=0)
    report.occupancy = compile_check.occupancy(report.resources, 128, (9, 0))
    report.loops = [compile_check.Loop(instructions=120, rare=0, roots=4, mufu=8)]
    compile_check._judge(spec, report)
    assert len(report.failures) == 4  # local memory, occupancy, instructions, special-function ops


def test_loops_are_counted_per_square_root_without_the_coincident_branch() -> None:
    ptx = """
$L__BB0_1:
\tld.shared.f32 \t%f1, [%rd1];
\tsub.ftz.f32 \t%f2, %f3, %f1;
\tmul.ftz.f32 \t%f4, %f2, %f2;
\tadd.ftz.f32 \t%f5, %f4, %f6;
\trsqrt.approx.ftz.f32 \t%f7, %f5;
\tfma.rn.ftz.f32 \t%f8, %f2, %f7, %f8;
\tsetp.geu.ftz.f32 \t%p1, %f4, 0f2EDBE6FF;
\t@%p1 bra \t$L__BB0_3;
\tld.global.u32 \t%r1, [%rd2];
\tsqrt.approx.ftz.f32 \t%f9, %f5;
$L__BB0_3:
\tadd.s32 \t%r2, %r2, 1;
\tsetp.lt.u32 \t%p2, %r2, %r3;
\t@%p2 bra \t$L__BB0_1;
"""
    (loop,) = compile_check.hot_loops(ptx)
    assert (loop.instructions, loop.rare, loop.roots, loop.mufu) == (13, 2, 1, 1)
    assert loop.per_pair == 11
