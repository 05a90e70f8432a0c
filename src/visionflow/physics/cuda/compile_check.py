"""Every CUDA kernel compiled for real hardware on a machine without a GPU, and checked.

The tests run the kernels on numba-cuda's simulator, which executes them as Python and never
compiles them, so a kernel that NVVM rejects, that spills registers to local memory or that
needs so many registers that too few warps fit on an SM would only show on the first real
run. This compiles each kernel (``KERNELS``) for sm_80 (A100) and sm_90 (H100/H200) through
numba-cuda's ``compile_ptx``, assembles the PTX with ``ptxas -v`` and fails on:

- a compile error (NVVM or ptxas);
- any spill store, spill load or stack frame (local memory) in a hot kernel;
- a hot kernel whose registers and shared memory leave under ``OCCUPANCY_FLOOR`` of the SM's
  warps resident at the block size it is launched with.

It also counts PTX instructions in the innermost loops of the repulsion kernels, per pair or
per cell (one square root, or reciprocal square root, per pair), the figure the inner loops
are tuned by.

NVVM and NVRTC come from PyPI (numba-cuda's ``cu13`` extra), ``ptxas`` from the
``nvidia-cuda-nvcc`` wheel (a ``ptxas`` on ``PATH`` is the fallback: it must be as new as NVVM,
whose PTX an older assembler refuses). No driver is needed: ``compile_ptx`` never touches a
device, and the one place numba-cuda asks for one, compiling a device function called by a
kernel, is given the target's compute capability instead (``_target``).

    python -m visionflow.physics.cuda.compile_check [--json]    # make gpu-compile

Runs with ``NUMBA_ENABLE_CUDASIM`` off (the simulator has no compiler); exit status 1 on a failed
check, 2 when a library it needs is missing (named on stderr).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "OCCUPANCY_FLOOR",
    "TARGETS",
    "KernelReport",
    "Loop",
    "Resources",
    "check",
    "hot_loops",
    "main",
    "missing_library",
    "occupancy",
    "parse_ptxas",
]

TARGETS = ((8, 0), (9, 0))
"""A100 and H100/H200."""
OCCUPANCY_FLOOR = 0.5
"""Least share of an SM's 64 warps a hot kernel must keep resident (at most 64 registers a thread):
the repulsion loops hide the latency of their shared-memory loads and of the reciprocal square
root only with several warps per scheduler."""

_MUFU = ("rsqrt.approx", "sqrt.approx", "sqrt.rn", "div.approx", "div.full", "div.rn", "rcp.approx", "rcp.rn",
         "ex2.approx", "lg2.approx", "sin.approx", "cos.approx")  # fmt: skip
"""PTX instructions the special-function unit (MUFU) executes, alone or as part of a sequence."""
_ROOT = ("rsqrt.approx", "sqrt.approx", "sqrt.rn")
"""One of these per pair or cell: what a loop's instruction count is divided by."""


@dataclass(frozen=True, slots=True)
class Resources:
    """What ``ptxas -v`` reports for one kernel."""

    registers: int
    spill_stores: int
    spill_loads: int
    stack_frame: int
    shared: int


@dataclass(frozen=True, slots=True)
class Loop:
    """One innermost loop of a kernel's PTX that evaluates a force (it takes a square root)."""

    instructions: int
    """Instructions of the body as the compiler laid it out (unrolled copies included)."""
    rare: int
    """Of those, instructions behind a branch on the coincidence test (``d2 < COINCIDENT``): skipped but for
    nodes at one point."""
    roots: int
    """Square roots (or reciprocal square roots) on its path: pairs or cells per iteration."""
    mufu: int
    """Instructions for the special-function unit on its path, ``div.approx`` counting as one (its reciprocal)."""

    @property
    def per_pair(self) -> float:
        """Instructions per pair (or cell) on the path every pair takes."""
        return (self.instructions - self.rare) / self.roots

    @property
    def mufu_per_pair(self) -> float:
        return self.mufu / self.roots


@dataclass(slots=True)
class KernelReport:
    name: str
    target: str
    threads: int
    hot: bool
    resources: Resources | None = None
    occupancy: float = 0.0
    loops: list[Loop] = field(default_factory=list)
    loop_names: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class KernelSpec:
    """A kernel, the argument types it is launched with, and its block size."""

    name: str
    kernel: Any
    signature: tuple[Any, ...]
    threads: int
    hot: bool
    loops: tuple[tuple[str, float], ...] = ()
    """Its force loops in the order they appear in the PTX: a name, and the most instructions a pair (or cell)
    may take on the path every pair takes (as measured, plus about a tenth)."""


def missing_library() -> str | None:
    """The first library or tool the check needs and cannot find, or None."""
    if importlib.util.find_spec("numba_cuda") is None:
        return "numba-cuda (pip install -e .[dev])"
    try:
        pathfinder: Any = importlib.import_module("cuda.pathfinder")
    except ImportError:
        return "cuda-pathfinder (pip install -e .[dev])"
    for lib in ("nvvm", "nvrtc"):
        try:
            pathfinder.load_nvidia_dynamic_lib(lib)
        except Exception:
            return f"lib{lib} (pip install 'numba-cuda[cu13]')"
    if _ptxas() is None:
        return "ptxas (pip install nvidia-cuda-nvcc)"
    return None


def _ptxas() -> str | None:
    """The wheel's ``ptxas`` (the same release as the wheel's NVVM), else one on ``PATH``."""
    try:
        found = importlib.import_module("cuda.pathfinder").find_nvidia_binary_utility("ptxas")
    except Exception:
        found = None
    return str(found) if found else shutil.which("ptxas")


@contextlib.contextmanager
def _target(cc: tuple[int, int]) -> Iterator[None]:
    """Answer numba-cuda's question for the current device with ``cc`` while compiling.

    numba-cuda compiles a device function, on its first call from a kernel, for "the current
    device"; without a driver that question raises. Its answer only selects the compute
    capability, which ``compile_ptx`` already fixes for the kernel.
    """
    dispatcher: Any = importlib.import_module("numba.cuda.dispatcher")

    class _Device:
        compute_capability = cc

    original = dispatcher.get_current_device
    dispatcher.get_current_device = lambda: _Device()
    try:
        yield
    finally:
        dispatcher.get_current_device = original


_PTXAS_FUNCTION = re.compile(r"Function properties for (\S+)")
_PTXAS_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_PTXAS_USED = re.compile(r"Used (\d+) registers(?:.*?, (\d+) bytes smem)?")


def parse_ptxas(log: str) -> Resources:
    """The resources of the one entry function in a ``ptxas -v`` log."""
    frame = _PTXAS_FRAME.search(log)
    used = _PTXAS_USED.search(log)
    if frame is None or used is None:
        raise ValueError(f"no resource usage in ptxas output:\n{log}")
    return Resources(registers=int(used.group(1)), stack_frame=int(frame.group(1)),
                     spill_stores=int(frame.group(2)), spill_loads=int(frame.group(3)),
                     shared=int(used.group(2) or 0))  # fmt: skip


def occupancy(resources: Resources, threads: int, cc: tuple[int, int]) -> float:
    """Share of an SM's warps resident at once: the least of the register, shared-memory and block limits.

    Registers are allocated per warp in units of 256; sm_80 gives a block up to 164 KB of shared
    memory per SM and sm_90 228 KB (less 1 KB reserved per block); both hold 64 warps and 32 blocks.
    """
    warps = math.ceil(threads / 32)
    per_warp = math.ceil(max(resources.registers, 1) * 32 / 256) * 256
    by_registers = (65536 // per_warp) // warps
    smem_sm = (228 if cc >= (9, 0) else 164) * 1024
    by_shared = smem_sm // (resources.shared + 1024) if resources.shared else 32
    blocks = min(by_registers, by_shared, 32, 64 // warps)
    return blocks * warps / 64


_LABEL = re.compile(r"^(\$L__\w+):")
_BRANCH = re.compile(r"\bbra(?:\.uni)?\s+(\$L__\w+);")
_GUARD = re.compile(r"^@!?(%p\d+)\s+bra(?:\.uni)?\s+(\$L__\w+);")
_DEFINES = re.compile(r"^(?:setp|or\.pred|and\.pred|not\.pred|xor\.pred)\S*\s+(%p\d+)(?:\|%p\d+)?,\s*(.*);")


def _coincidence_constant() -> str:
    """``COINCIDENT`` as PTX writes a float32 immediate (0fXXXXXXXX)."""
    import struct

    return "0f" + struct.pack(">f", 1e-10).hex().upper()


def hot_loops(ptx: str) -> list[Loop]:
    """The innermost loops of one kernel's PTX that take a square root, in source order.

    A loop is a label and a later branch back to it; innermost means no other loop starts inside
    it. Counted are the instructions between the two (the body as the compiler unrolled it,
    rarely taken branches included), so a figure per pair is the body over its square roots.
    """
    lines = [line.strip() for line in ptx.splitlines()]
    labels: dict[str, int] = {}
    loops: list[tuple[int, int]] = []
    for index, line in enumerate(lines):
        label = _LABEL.match(line)
        if label:
            labels[label.group(1)] = index
            continue
        branch = _BRANCH.search(line)
        if branch and branch.group(1) in labels:
            loops.append((labels[branch.group(1)], index))
    innermost = [(a, b) for a, b in loops if not any(a < c and d <= b and (c, d) != (a, b) for c, d in loops)]
    rare = _rare_lines(lines, labels)
    found: list[Loop] = []
    for start, end in sorted(innermost):
        body = [(index, line) for index, line in enumerate(lines[start + 1 : end + 1], start + 1)
                if _is_instruction(line)]  # fmt: skip
        path = [_after_guard(line) for index, line in body if index not in rare]
        roots = sum(1 for line in path if line.startswith(_ROOT))
        if roots:
            mufu = sum(1 for line in path if line.startswith(_MUFU))
            found.append(Loop(instructions=len(body), rare=len(body) - len(path), roots=roots, mufu=mufu))
    return found


def _rare_lines(lines: list[str], labels: dict[str, int]) -> set[int]:
    """Lines an if-then on the coincidence test skips (a forward branch whose predicate comes from that test)."""
    constant = _coincidence_constant()
    sources: dict[str, set[str]] = {}
    coincident: set[str] = set()
    for line in lines:
        defined = _DEFINES.match(line)
        if defined:
            register, operands = defined.groups()
            sources[register] = set(re.findall(r"%p\d+", operands))
            if constant in operands:
                coincident.add(register)

    def from_test(register: str, seen: frozenset[str] = frozenset()) -> bool:
        if register in coincident:
            return True
        return any(from_test(r, seen | {register}) for r in sources.get(register, ()) if r not in seen)

    skipped: set[int] = set()
    starts = set(labels.values())
    for index, line in enumerate(lines):
        guard = _GUARD.match(line)
        target = labels.get(guard.group(2), -1) if guard else -1
        # Only an if-then: the skipped lines run straight into the branch's target, no other label between.
        if guard and target > index and not starts & set(range(index + 1, target)) and from_test(guard.group(1)):
            skipped.update(range(index + 1, target))
    return skipped


def _after_guard(line: str) -> str:
    """An instruction without its predicate guard (``@%p1 bra ...`` becomes ``bra ...``)."""
    return line.split(None, 1)[1] if line.startswith("@") else line


def _is_instruction(line: str) -> bool:
    return bool(line) and line.endswith(";") and not line.startswith(("//", ".", "{", "}")) and ":" not in line[:1]


def kernel_specs() -> list[KernelSpec]:
    """Every kernel of ``physics.cuda`` with the argument types ``CudaBackend`` launches it with."""
    from numba import float32, int32, int64, uint8, uint32

    types: Any = importlib.import_module("numba.core.types")

    from visionflow.physics.cuda import kernels as k
    from visionflow.physics.cuda import multipole_kernels as km
    from visionflow.physics.cuda import scan

    def array(dtype: Any, ndim: int, layout: str = "C") -> Any:
        return types.Array(dtype, ndim, layout)

    f1, f2, f3 = array(float32, 1), array(float32, 2), array(float32, 3)
    i1, i2, u1 = array(int32, 1), array(int32, 2), array(uint32, 1)
    f, u = float32, uint32
    b = k.BLOCK
    hot, cold = True, False
    # fmt: off
    return [
        KernelSpec("repulsion_exact", k.repulsion_exact, (f2, u, u, f, f, f3), k.TILE, hot,
                   (("pair in its own or the last tile", 22), ("pair", 22))),
        KernelSpec("integrate", k.integrate,
                   (f2, f2, f2, f2, f3, u, array(int64, 1), i1, f1, array(uint8, 1), u, *(f,) * 10, f1, u), b, hot),
        KernelSpec("move_rows", k.move_rows, (f2, f2, i2, u), b, cold),
        KernelSpec("write_rows", k.write_rows, (f2, f2, array(uint8, 1), i2, array(float32, 2, "A"), u), b, cold),
        KernelSpec("gather_weights", k.gather_weights, (f1, i1, u, f1), b, cold),
        KernelSpec("scatter_weights", k.scatter_weights, (f1, i2, f2, u), b, cold),
        KernelSpec("bounds_partial", km.bounds_partial, (f2, u, f2), b, cold),
        KernelSpec("bounds_box", km.bounds_box, (f2, int64, int64, u, f, f1), b, cold),
        KernelSpec("bin_nodes", km.bin_nodes, (f2, u, f1, u, u1, i1), b, cold),
        KernelSpec("scatter_nodes", km.scatter_nodes, (f2, u, u1, i1, i1, f1, u1, u1), b, cold),
        KernelSpec("leaf_cells", km.leaf_cells, (f1, i1, u, u, f1), b, cold),
        KernelSpec("coarsen_cells", km.coarsen_cells, (f1, u, u, u), b, cold),
        KernelSpec("repulsion_multipole", km.repulsion_multipole, (f1, u1, u1, u, i1, f1, u, f, f, f2), b, hot,
                   (("far cell", 22), ("near pair", 28))),
        KernelSpec("repulsion_near", km.repulsion_near, (f1, u1, u1, u, i1, u, f, f, f, f2), b, hot,
                   (("pair within the cutoff", 30),)),
        KernelSpec("scan_chunks", scan.scan_chunks, (i1, u, i1, i1), b, cold),
        KernelSpec("add_chunk_offsets", scan.add_chunk_offsets, (i1, u, i1), b, cold),
    ]
    # fmt: on


def unlisted_kernels() -> list[str]:
    """Kernels of ``physics.cuda`` missing from ``kernel_specs``: a new kernel must be checked too."""
    listed = {id(spec.kernel) for spec in kernel_specs()}
    found = []
    for name in ("kernels", "multipole_kernels", "scan"):
        module = importlib.import_module(f"visionflow.physics.cuda.{name}")
        for attr, value in vars(module).items():
            options = getattr(value, "targetoptions", None)
            if isinstance(options, dict) and not options.get("device") and id(value) not in listed:
                found.append(f"{name}.{attr}")
    return found


def _compile(spec: KernelSpec, cc: tuple[int, int]) -> str:
    compile_ptx = importlib.import_module("numba.cuda").compile_ptx
    options = spec.kernel.targetoptions
    with _target(cc):
        ptx, _ = compile_ptx(spec.kernel.py_func, spec.signature, cc=cc, fastmath=bool(options.get("fastmath")))
    return str(ptx)


def _assemble(ptx: str, cc: tuple[int, int], ptxas: str) -> Resources:
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "kernel.ptx"
        source.write_text(ptx)
        done = subprocess.run([ptxas, f"-arch=sm_{cc[0]}{cc[1]}", "-v", str(source), "-o", str(source) + ".cubin"],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"ptxas failed:\n{done.stderr}")
    return parse_ptxas(done.stderr + done.stdout)


def check(targets: Sequence[tuple[int, int]] = TARGETS) -> list[KernelReport]:
    """Compile, assemble and judge every kernel for every target."""
    from numba.core import config

    if getattr(config, "ENABLE_CUDASIM", 0):
        raise RuntimeError("NUMBA_ENABLE_CUDASIM is on: the simulator compiles nothing; run with it unset")
    ptxas = _ptxas()
    if ptxas is None:
        raise RuntimeError("ptxas not found (pip install nvidia-cuda-nvcc)")
    reports = [
        KernelReport(name, "-", 0, True, failures=["not in kernel_specs: unchecked"]) for name in unlisted_kernels()
    ]
    for spec in kernel_specs():
        for cc in targets:
            report = KernelReport(spec.name, f"sm_{cc[0]}{cc[1]}", spec.threads, spec.hot,
                                  loop_names=[name for name, _ in spec.loops])  # fmt: skip
            reports.append(report)
            try:
                ptx = _compile(spec, cc)
                report.resources = _assemble(ptx, cc, ptxas)
            except Exception as exc:  # a compile error is the finding, not a crash of the check
                report.failures.append(f"does not compile: {str(exc).strip().splitlines()[-1][:300]}")
                continue
            report.loops = hot_loops(ptx)
            report.occupancy = occupancy(report.resources, spec.threads, cc)
            _judge(spec, report)
    return reports


def _judge(spec: KernelSpec, report: KernelReport) -> None:
    r = report.resources
    assert r is not None
    if not spec.hot:
        return
    if r.spill_stores or r.spill_loads or r.stack_frame:
        report.failures.append(f"local memory: {r.stack_frame} B stack, {r.spill_stores} B spill stores, "
                               f"{r.spill_loads} B spill loads")  # fmt: skip
    if report.occupancy < OCCUPANCY_FLOOR:
        report.failures.append(f"occupancy {report.occupancy:.0%} < {OCCUPANCY_FLOOR:.0%} "
                               f"({r.registers} registers, {r.shared} B shared, {spec.threads} threads)")  # fmt: skip
    if not spec.loops:
        return
    if len(report.loops) != len(spec.loops):
        names = ", ".join(name for name, _ in spec.loops)
        report.failures.append(f"expected {len(spec.loops)} force loops ({names}), found {len(report.loops)}")
        return
    for (name, budget), loop in zip(spec.loops, report.loops, strict=True):
        if loop.per_pair > budget:
            report.failures.append(f"{name}: {loop.per_pair:.1f} instructions a pair, budget {budget}")
        if loop.mufu_per_pair > 1:
            report.failures.append(f"{name}: {loop.mufu_per_pair:g} special-function ops a pair, budget 1")


def _table(reports: list[KernelReport]) -> str:
    rows = [f"{'kernel':<20} {'target':<6} {'regs':>4} {'smem':>6} {'local':>5} {'occup':>5}  "
            "force loops: instructions (special-function ops) a pair or cell"]  # fmt: skip
    for r in reports:
        res = r.resources
        head = f"{r.name:<20} {r.target:<6} "
        if res is None:
            rows.append(head + "FAILED " + "; ".join(r.failures))
            continue
        names = r.loop_names if len(r.loop_names) == len(r.loops) else [f"loop {i + 1}" for i in range(len(r.loops))]
        loops = ", ".join(
            f"{name} {loop.per_pair:.1f} ({loop.mufu_per_pair:g})" for name, loop in zip(names, r.loops, strict=True)
        )
        local = res.spill_stores + res.spill_loads + res.stack_frame
        mark = "" if not r.failures else "   FAIL: " + "; ".join(r.failures)
        rows.append(head + f"{res.registers:>4} {res.shared:>6} {local:>5} {r.occupancy:>5.0%}  {loops}{mark}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    missing = missing_library()
    if missing:
        print(f"cannot compile the CUDA kernels: {missing} is missing", file=sys.stderr)
        return 2
    reports = check()
    if "--json" in args:
        print(json.dumps([{**asdict(r), "loops": [{**asdict(loop), "per_pair": round(loop.per_pair, 2),
                                                   "mufu_per_pair": loop.mufu_per_pair} for loop in r.loops]}
                          for r in reports]))  # fmt: skip
    else:
        print(_table(reports))
        print(f"ptxas: {_ptxas()}; floor: {OCCUPANCY_FLOOR:.0%} occupancy, no local memory in hot kernels")
    failed = [r for r in reports if r.failures]
    for r in failed:
        print(f"FAILED {r.name} {r.target}: {'; '.join(r.failures)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS", "0")
    raise SystemExit(main())
