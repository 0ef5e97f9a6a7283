"""The ``mcubench`` command line.

Each sub-command is one function taking the parsed arguments and a Console; errors are
McubenchError subclasses, turned into a message and an exit code only in ``main``.
``main(argv)`` runs in-process, which is how the tests drive it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from mcubench import __version__
from mcubench.bench import Bench, BenchConfig, ModelSource, Target
from mcubench.bench_format import markdown, ops_table, summary_tables, write_csv
from mcubench.boards import all_boards, get_board
from mcubench.build import APPS, OPT_LEVELS, FirmwareOptions, build_firmware, firmware_elf
from mcubench.compare import (
    add_compare_parser,
    check_regressions,
    format_gate_report,
    threshold_type,
)
from mcubench.emulator import emulator_for
from mcubench.errors import (
    McubenchError,
    MismatchError,
    ModelError,
    RegressionError,
    UsageError,
    exit_code_for,
)
from mcubench.inference import load_on_device
from mcubench.kernels import unsupported_nodes
from mcubench.locate import locate
from mcubench.log_command import add_log_parser
from mcubench.model import Model, Subgraph, Tensor, load_model, plan_arena, subgraph_macs
from mcubench.model.catalog import resolve_model
from mcubench.protocol.codes import Capability
from mcubench.reference import SecondOpinion, check_inputs, random_inputs
from mcubench.report import add_report_parser
from mcubench.results import load_document, new_document, write_document
from mcubench.run import RunResult, report_record, run_model, second_opinion_record
from mcubench.session import Session, open_session

Handler = Callable[[argparse.Namespace, Console], int]


def cmd_boards(args: argparse.Namespace, out: Console) -> int:
    boards = all_boards().values()
    if args.json:
        print(json.dumps([
            {"board": b.name, "core": b.core, "runs_on": b.runs_on, "emulated": b.is_emulated,
             "hardware": list(b.hardware), "counter_units": b.counter_units}
            for b in boards
        ], indent=2))
        return 0
    table = Table("board", "core", "runs on", "latency counted in", title="mcubench boards")
    for b in boards:
        units = " / ".join(f"{unit} ({where})" for where, unit in b.counter_units.items())
        table.add_row(b.name, b.core, b.runs_on, units)
    out.print(table)
    return 0


def cmd_build(args: argparse.Namespace, out: Console) -> int:
    board = get_board(args.board)
    options = _firmware_options(args)
    model = options.model
    with out.status(f"building firmware for {board.name} ({options.describe()}) ..."):
        result = build_firmware(board, options, verbose=args.verbose)
    size = result.size
    out.print(f"[bold]{board.name}[/bold] ({options.describe()}): {result.elf}")
    if model is not None:
        use = (f"run it with mcubench run {escape(args.model)} --board {board.name} --embedded"
               if args.app == "mcubench" else
               "the firmware speaks the MLPerf Tiny protocol: drive it with the official "
               "runner or mcubench.mlperf_tiny (docs/mlperf_tiny.md)")
        out.print(f"  model {escape(args.model)} ({len(model):,} bytes, sha256 "
                  f"{result.embedded_model_sha256}) linked into flash: {use}")
    out.print(f"  flash {size.flash_bytes:,} bytes (text {size.text:,} + data {size.data:,})")
    out.print(f"  sha256 {result.sha256}")
    out.print(f"  RAM   {size.ram_bytes:,} bytes (data {size.data:,} + bss {size.bss:,}, "
              "incl. stack)")
    return 0


def _firmware_options(args: argparse.Namespace) -> FirmwareOptions:
    """--model, --profile, --app, --opt of build and emulate."""
    model = _read_model_file(resolve_model(args.model)) if args.model else None
    if args.app == "mlperf-tiny" and model is None:
        raise UsageError("the MLPerf Tiny firmware runs the model in flash: add --model MODEL")
    return FirmwareOptions(model=model, profile=args.profile, app=args.app, opt=args.opt)


def _add_firmware_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="MODEL",
                   help="link this .tflite into flash (for boards whose RAM cannot hold it)")
    p.add_argument("--profile", action="store_true",
                   help="compile the per-operator profiler in (PROFILE request)")
    p.add_argument("--app", choices=list(APPS), default="mcubench",
                   help="what the firmware speaks: mcubench's protocol (default) or the "
                        "EEMBC / MLPerf Tiny UART protocol (needs --model)")
    p.add_argument("--opt", choices=OPT_LEVELS, default="Os",
                   help="optimisation level (Os)")


def cmd_emulate(args: argparse.Namespace, out: Console) -> int:
    board = get_board(args.board)
    options = _firmware_options(args)
    elf = firmware_elf(board, options) if args.no_build else build_firmware(board, options).elf
    with emulator_for(board, elf) as emulator:
        out.print(f"{board.name} is running. Serial URL: [bold]{emulator.url}[/bold]")
        hint = (f"mcubench info --port {emulator.url}" if options.app == "mcubench" else
                "the MLPerf Tiny runner, or mcubench.mlperf_tiny.MlperfTinyClient")
        out.print(f"  e.g. {hint}    (Ctrl-C stops the emulator)")
        while True:
            emulator.check_alive()
            time.sleep(0.5)


def info_record(session: Session) -> dict[str, Any]:
    info = session.info
    counter = session.counter
    return {
        "board": info.board,
        "core": info.core,
        "clock_hz": info.clock_hz,
        "target": session.target,
        "counter_unit": counter.unit,
        "counter_source": info.counter_source.name,
        "counter_hz": info.counter_hz,
        "counter_note": counter.note,
        "protocol_version": info.protocol_version,
        "firmware_version": info.firmware_version,
        "firmware_git": info.firmware_git,
        "compiler": info.compiler,
        "build_flags": info.build_flags,
        "max_payload": info.max_payload,
        "rx_window": info.rx_window,
        "pool_bytes": info.pool_bytes,
        "capabilities": [c.name for c in Capability if c in info.capabilities],
        "kernels": info.kernels,
        "embedded_model_bytes": info.embedded_model_bytes,
        "url": session.url,
    }


def cmd_info(args: argparse.Namespace, out: Console) -> int:
    with open_session(board=args.board, port=args.port, baudrate=args.baud,
                      build=not args.no_build, trace=_tracer(args)) as session:
        record = info_record(session)
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    table = Table("field", "value", show_header=False, title=f"{record['board']} ({record['url']})")
    for key, value in record.items():
        table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    out.print(table)
    return 0


def inspect_record(path: Path, model: Model) -> dict[str, Any]:
    """What ``inspect --json`` prints: ops, tensors, MACs and the arena estimate."""
    subgraphs = []
    unsupported = {(u.subgraph, u.node) for u in unsupported_nodes(model)}
    for sg in model.subgraphs:
        macs = subgraph_macs(sg)
        subgraphs.append({
            "index": sg.index,
            "name": sg.name,
            "inputs": list(sg.inputs),
            "outputs": list(sg.outputs),
            "macs": sum(macs),
            "operators": [
                {"index": op.index, "op": op.op, "custom": op.custom, "inputs": list(op.inputs),
                 "outputs": list(op.outputs), "macs": op_macs, "options": _plain(op.options),
                 "supported": (sg.index, op.index) not in unsupported}
                for op, op_macs in zip(sg.operators, macs, strict=True)
            ],
            "tensors": [_tensor_record(t) for t in sg.tensors],
        })
    return {
        "model": str(path),
        "sha256": model.sha256,
        "size_bytes": model.size_bytes,
        "schema_version": model.version,
        "description": model.description,
        "constant_bytes": model.constant_bytes,
        "subgraphs": subgraphs,
        "macs_total": sum(sg["macs"] for sg in subgraphs),
        "arena_bytes_estimate": plan_arena(model).peak_bytes,
        "supported": not unsupported,
    }


def _tensor_record(t: Tensor) -> dict[str, Any]:
    q = t.quantization
    return {
        "index": t.index, "name": t.name, "dtype": t.dtype, "shape": list(t.shape),
        "shape_signature": list(t.shape_signature), "buffer": t.buffer,
        "constant": t.is_constant, "variable": t.is_variable, "bytes": t.nbytes,
        "quantization": None if q is None else {
            "scales": list(q.scales), "zero_points": list(q.zero_points),
            "quantized_dimension": q.quantized_dimension,
        },
    }


def _plain(value: Any) -> Any:
    """Options (read-only mappings, tuples) as JSON-ready dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def cmd_inspect(args: argparse.Namespace, out: Console) -> int:
    path = resolve_model(args.model)
    model = load_model(path)
    record = inspect_record(path, model)
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    n = len(model.subgraphs)
    out.print(f"[bold]{escape(path.name)}[/bold]: {model.size_bytes:,} bytes, schema "
              f"v{model.version}, {escape(repr(model.description))}, "
              f"{n} subgraph{'s' if n != 1 else ''}")
    out.print(f"sha256 {model.sha256}")
    out.print(f"constants: {model.constant_bytes:,} bytes in {len(model.buffer_sizes)} buffers")
    for sg, sg_record in zip(model.subgraphs, record["subgraphs"], strict=True):
        _print_subgraph(out, sg, sg_record, show_macs=n > 1)
    out.print(f"[bold]MACs[/bold]: {record['macs_total']:,} per inference")
    out.print(f"[bold]arena estimate[/bold]: {record['arena_bytes_estimate']:,} bytes "
              "(activations and scratch, placed as TFLM's greedy planner does; "
              "persistent part not included)")
    return 0


def _print_subgraph(out: Console, sg: Subgraph, record: dict[str, Any], show_macs: bool) -> None:
    table = Table("#", "op", "input shapes -> output shapes",
                  title=f"subgraph {sg.index} {escape(repr(sg.name))}: "
                        f"{len(sg.operators)} operators, {len(sg.tensors)} tensors",
                  caption="constant operands dimmed, - marks an absent optional input")
    table.add_column("MACs", justify="right")
    table.add_column("kernel")
    for op, op_record in zip(sg.operators, record["operators"], strict=True):
        ins = ", ".join(_shape_cell(sg, t) for t in op.inputs)
        outs = ", ".join(_shape_cell(sg, t) for t in op.outputs)
        table.add_row(str(op.index), escape(op.op), f"{ins} -> {outs}",
                      f"{op_record['macs']:,}",
                      "yes" if op_record["supported"] else "[red]unsupported[/red]")
    out.print(table)
    for title, indices in (("inputs", sg.inputs), ("outputs", sg.outputs)):
        out.print(f"{title}:" if indices else f"{title}: none")
        for t in indices:
            out.print(f"  {_tensor_line(sg.tensors[t])}")
    if show_macs:
        out.print(f"subgraph {sg.index}: {record['macs']:,} MACs")


def _shape_cell(sg: Subgraph, index: int) -> str:
    if index < 0:
        return "-"
    t = sg.tensors[index]
    text = "x".join(str(d) for d in t.shape) or "scalar"
    return f"[dim]{text}[/dim]" if t.is_constant else text


def _tensor_line(t: Tensor) -> str:
    q = t.quantization
    if q is None:
        quant = "not quantised"
    elif q.per_channel:
        quant = f"{len(q.scales)} scales along dimension {q.quantized_dimension}"
    else:
        quant = f"scale {q.scales[0]:.7g}, zero point {q.zero_points[0]}"  # float32: 7 digits
    return f"#{t.index} {escape(repr(t.name))} {t.dtype} {list(t.shape)} {quant}"


def _read_model_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read model {path}: {exc.strerror}") from exc


def _input_sets(args: argparse.Namespace, model: Model) -> list[tuple[str, list[np.ndarray]]]:
    """--input files (one array per model input, or one .npz with all), else seeded data."""
    if args.input:
        arrays: list[np.ndarray] = []
        for name in args.input:
            try:
                loaded = np.load(name, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise UsageError(f"cannot read input {name}: {exc}") from exc
            if isinstance(loaded, np.lib.npyio.NpzFile):
                arrays.extend(loaded[key] for key in loaded.files)
            else:
                arrays.append(loaded)
        check_inputs(model, arrays)
        return [(", ".join(args.input), arrays)]
    if args.random < 1:
        raise UsageError("--random takes a count of 1 or more")
    return [(f"seed {seed}", random_inputs(model, seed))
            for seed in range(args.seed, args.seed + args.random)]


def _transfer_progress() -> Progress:
    """A byte progress bar on stderr (stdout may be carrying JSON)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=True)


def cmd_run(args: argparse.Namespace, out: Console) -> int:
    path = resolve_model(args.model)
    data = _read_model_file(path)
    model = load_model(path)
    unsupported = list(unsupported_nodes(model))
    if unsupported:
        raise ModelError(f"{path.name}: {unsupported[0]}"
                         + (f" (and {len(unsupported) - 1} more)" if len(unsupported) > 1 else ""))
    inputs = _input_sets(args, model)
    elf = None
    if args.embedded and args.board:
        with out.status(f"building firmware for {args.board} with the model in flash ..."):
            elf = build_firmware(get_board(args.board), FirmwareOptions(model=data)).elf
    with open_session(board=args.board, port=args.port, baudrate=args.baud,
                      build=not args.no_build, elf=elf, trace=_tracer(args)) as session:
        with _transfer_progress() as progress:
            task = progress.add_task(f"uploading {path.name}", total=len(data))
            inference = load_on_device(
                session.device, data, embedded=args.embedded,
                progress=lambda done, total: progress.update(task, completed=done, total=total))
        counter = session.counter

        def show(result: RunResult) -> None:
            if not args.json:
                verdict = "[green]bit-exact[/green]" if result.bit_exact else "[red]DIFFERS[/red]"
                out.print(f"  {result.label}: {verdict}, "
                          f"{counter.convert(result.ticks):,.0f} {counter.unit}")

        second = SecondOpinion(data, model) if args.second_opinion else None
        report = run_model(inference, data, model, inputs, on_run=show, second=second)
        located: dict[str, Any] | None = None
        if args.locate:
            # The first differing run's inputs, else the first run's: from a reset, so a
            # stateful model is compared on its first invocation.
            first = next((i for i, r in enumerate(report.runs) if not r.bit_exact), 0)
            with out.status("locating: running operator by operator ...") as status:
                divergence = locate(
                    inference, data, model, inputs[first][1],
                    on_node=lambda k, n: status.update(f"locating: operator {k + 1} of {n}"))
            located = {"input": inputs[first][0],
                       "divergence": None if divergence is None else asdict(divergence),
                       "message": str(divergence) if divergence else
                       "every operator's outputs equal tflite_micro's"}
        loaded = inference.loaded
        record = {
            "model": str(path),
            "model_sha256": model.sha256,
            "model_bytes": len(data),
            "embedded": args.embedded,
            "board": session.info.board,
            "target": session.target,
            "firmware_git": session.info.firmware_git,
            "kernels": session.info.kernels,
            **report_record(report, model, counter),
            "arena": {"arena_bytes": loaded.arena_bytes,
                      "nonpersistent_bytes": loaded.nonpersistent_bytes,
                      "scratch_bytes": loaded.scratch_bytes,
                      "persistent_bytes": loaded.persistent_bytes,
                      "required_bytes": loaded.required_bytes},
        }
        if located is not None:
            record["locate"] = located
        if second is not None:
            record["second_opinion"] = second_opinion_record(report, second.name)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        _print_run(out, record)
    if not report.bit_exact:
        bad = len(report.runs) - record["exact_runs"]
        raise MismatchError(f"{bad} of {len(report.runs)} run(s) differ from tflite_micro")
    return 0


def cmd_bench(args: argparse.Namespace, out: Console) -> int:
    if args.input and len(args.model) > 1:
        raise UsageError("--input gives the inputs of one model: name one model with it")
    config = BenchConfig(runs=args.runs, warmup=args.warmup, profile=args.profile,
                         opt=args.opt, embedded=True if args.embedded else None)
    threshold: float = args.max_regression
    baseline = load_document(Path(args.baseline)) if args.baseline else None
    sources = []
    for name in args.model:
        path = resolve_model(name)
        model = load_model(path)
        unsupported = list(unsupported_nodes(model))
        if unsupported:
            raise ModelError(f"{name}: {unsupported[0]}")
        sources.append(ModelSource(name, _read_model_file(path), model))
    targets = ([Target(board=b, trace=_tracer(args)) for b in args.board] if args.board
               else [Target(port=args.port, baudrate=args.baud, trace=_tracer(args))])
    results = []
    with _bench_progress() as progress:
        for source in sources:
            label, arrays = _input_sets(args, source.model)[0]
            for target in targets:
                what = f"{Path(source.name).name} on {target.label}"
                task = progress.add_task(what, total=config.runs)

                def update(step: str, done: int, total: int, task: TaskID = task,
                           what: str = what) -> None:
                    if total:
                        progress.update(task, completed=done, total=total,
                                        description=f"{what}: {step} {done}/{total}")
                    else:
                        progress.update(task, description=f"{what}: {step}")

                results.append(Bench(target, config, update).run(source, arrays, label))
                progress.remove_task(task)
    document = new_document(results, "mcubench " + " ".join(sys.argv[1:]))
    if args.json:
        write_document(Path(args.json), document)
    if args.csv:
        write_csv(Path(args.csv), results)
    if args.markdown:
        print(markdown(results), end="")
    else:
        _print_bench(out, results)
    if args.json:
        out.print(f"results: {escape(args.json)}")
    failures = [r for r in results if not r["bit_exact"]]
    if baseline is not None:
        gate = check_regressions(baseline, document, threshold,
                                 missing_is_regression=args.fail_on_missing)
        out.print(format_gate_report(gate), markup=False)
        if gate.regressions:
            raise RegressionError(f"{len(gate.regressions)} regression(s) against "
                                  f"{args.baseline} beyond {threshold:.1%}")
    if failures:
        raise MismatchError(f"{len(failures)} of {len(results)} benchmark(s) are not bit-exact "
                            "with tflite_micro")
    return 0


def _bench_progress() -> Progress:
    """One line per running benchmark, on stderr (stdout may carry markdown)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)


def _print_bench(out: Console, results: list[dict[str, Any]]) -> None:
    for table in summary_tables(results):
        out.print(table)
    for result in results:
        if "ops" in result:
            out.print(ops_table(result))
            prof = result["profile"]
            cost = (f"it costs {prof['overhead']:+.3%} ({prof['profiled_median']:,.0f} vs "
                    f"{prof['plain_median']:,.0f} {result['counter_unit']}, median with and "
                    "without it)" if "overhead" in prof else
                    "its cost is not measured (the board runs one firmware, with the profiler)")
            out.print(f"profiler: per-operator counts add up to {prof['ops_sum_ratio']:.4%} of "
                      f"the whole inference; {cost}")
    notes = {r["provenance"]["counter_note"] for r in results}
    for note in sorted(notes):
        out.print(f"[dim]counter: {escape(note)}[/dim]")


def _diff_cell(value: float | None) -> str:
    return "NaN or shape" if value is None else f"{value:g}"


def _print_run(out: Console, record: dict[str, Any]) -> None:
    table = Table("output", "dtype", "shape", "bit-exact runs", "max |diff|",
                  title=f"{escape(Path(record['model']).name)} on {record['board']} "
                        f"({record['target']}) vs tflite_micro")
    for o in record["outputs"]:
        table.add_row(f"#{o['index']} {escape(o['name'])}", o["dtype"], str(o["shape"]),
                      f"{o['bit_exact_runs']}/{record['runs']}", _diff_cell(o["max_abs_diff"]))
    out.print(table)
    lat = record["latency"]
    out.print(f"latency: median {lat['median']:,.0f} {lat['unit']} per inference "
              f"(min {lat['min']:,.0f}, max {lat['max']:,.0f}); {lat['counter']}")
    arena = record["arena"]
    out.print(f"arena: {arena['required_bytes']:,} bytes needed = "
              f"{arena['nonpersistent_bytes']:,} planned + {arena['persistent_bytes']:,} "
              "persistent")
    verdict = "[bold green]bit-exact[/bold green]" if record["bit_exact"] else \
        "[bold red]NOT bit-exact[/bold red]"
    out.print(f"verdict: {verdict} with tflite_micro over {record['runs']} run(s)")
    if "second_opinion" in record:
        so = record["second_opinion"]
        out.print(f"second opinion ({so['runtime']}): equal to tflite_micro in "
                  f"{so['runs_equal_to_tflm']}/{record['runs']} runs (max |diff| "
                  f"{_diff_cell(so['max_abs_diff_vs_tflm'])}), to the device in "
                  f"{so['runs_equal_to_device']}/{record['runs']}")
    if "locate" in record:
        out.print(f"locate ({escape(record['locate']['input'])}): "
                  f"{escape(record['locate']['message'])}")


def _tracer(args: argparse.Namespace) -> Callable[[str], None] | None:
    if not args.trace:
        return None
    err = Console(stderr=True, highlight=False)
    return lambda line: err.print(line, markup=False)


def _add_bench_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="benchmark models on boards: latency statistics, "
                                     "per-operator profile, memory, bit-exactness")
    p.add_argument("model", metavar="MODEL", nargs="+",
                   help="a .tflite file, or pymicro-wakeword:NAME")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--board", action="append",
                        help="boot this board in its emulator (repeat for several)")
    target.add_argument("--port", help="serial URL of a running board")
    p.add_argument("--baud", type=int, default=115200, help="baud rate for --port (115200)")
    p.add_argument("--runs", type=int, default=20, help="measured inferences (20)")
    p.add_argument("--warmup", type=int, default=1, help="inferences before measuring (1)")
    p.add_argument("--profile", action="store_true",
                   help="per-operator profile, from firmware built with the profiler; "
                        "prints what the profiler costs")
    p.add_argument("--input", action="append", metavar="X.npy",
                   help="benchmark inputs (.npy per model input, or one .npz); one model only")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (0)")
    p.add_argument("--embedded", action="store_true",
                   help="link every model into flash (default: on emulated boards, models "
                        "over 64 KiB)")
    p.add_argument("--opt", choices=OPT_LEVELS, default="Os",
                   help="optimisation level of the firmware (Os)")
    p.add_argument("--json", metavar="FILE", help="write the results (docs/results.schema.json)")
    p.add_argument("--csv", metavar="FILE", help="write one CSV row per model and board")
    p.add_argument("--markdown", action="store_true", help="print markdown tables")
    p.add_argument("--baseline", metavar="BASE.json",
                   help="fail (exit 10) when latency, arena or flash regress against this "
                        "results file, or outputs stop being bit-exact")
    p.add_argument("--max-regression", type=threshold_type, default=0.05, metavar="LIMIT",
                   help="allowed growth against --baseline: 5%% (default), or 0.05")
    p.add_argument("--fail-on-missing", action="store_true",
                   help="with --baseline: a baseline result this run did not produce is a "
                        "regression, not a note")
    p.set_defaults(handler=cmd_bench, random=1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcubench",
        description="Run TensorFlow Lite models on microcontrollers and measure them there.",
    )
    parser.add_argument("--version", action="version", version=f"mcubench {__version__}")
    parser.add_argument("--trace", action="store_true",
                        help="hex dump every protocol frame to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("boards", help="list the boards mcubench knows")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=cmd_boards)

    p = sub.add_parser("build", help="build the firmware for a board (PlatformIO, offline)")
    p.add_argument("--board", required=True)
    _add_firmware_options(p)
    p.add_argument("--verbose", action="store_true", help="show PlatformIO's output")
    p.set_defaults(handler=cmd_build)

    p = sub.add_parser("emulate", help="boot a board in its emulator until Ctrl-C")
    p.add_argument("--board", required=True)
    _add_firmware_options(p)
    p.add_argument("--no-build", action="store_true", help="use the firmware already built")
    p.set_defaults(handler=cmd_emulate)

    p = sub.add_parser("info", help="ask a board who it is")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--board", help="boot this board in its emulator")
    target.add_argument("--port", help="serial URL of a running board: /dev/ttyACM0, "
                        "socket://127.0.0.1:PORT, a pty path")
    p.add_argument("--baud", type=int, default=115200, help="baud rate for --port (115200)")
    p.add_argument("--no-build", action="store_true", help="use the firmware already built")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser("inspect", help="show a .tflite model's operators, tensors, MACs, arena")
    p.add_argument("model", metavar="MODEL", help="a .tflite file, or pymicro-wakeword:NAME")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_inspect)

    p = sub.add_parser("run", help="run a model on a board and check it against TFLM bit for bit")
    p.add_argument("model", metavar="MODEL",
                   help="a .tflite file, or pymicro-wakeword:NAME (alexa, hey_jarvis, "
                        "hey_mycroft, okay_nabu)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--board", help="boot this board in its emulator")
    target.add_argument("--port", help="serial URL of a running board")
    p.add_argument("--baud", type=int, default=115200, help="baud rate for --port (115200)")
    p.add_argument("--no-build", action="store_true", help="use the firmware already built")
    p.add_argument("--embedded", action="store_true",
                   help="run the model linked into the firmware (mcubench build --model) "
                        "instead of uploading it; with --board, builds that firmware")
    p.add_argument("--input", action="append", metavar="X.npy",
                   help="input array (.npy, one per model input in order, or one .npz)")
    p.add_argument("--random", type=int, default=1, metavar="N",
                   help="without --input: N runs on seeded random inputs (1)")
    p.add_argument("--seed", type=int, default=0, help="first seed for --random (0)")
    p.add_argument("--second-opinion", action="store_true",
                   help="also run TFLite's reference kernels (LiteRT BUILTIN_REF) and say "
                        "whether they agree with TFLM and with the device")
    p.add_argument("--locate", action="store_true",
                   help="find the first operator whose output differs from tflite_micro's "
                        "(runs the model operator by operator)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_run)

    _add_bench_parser(sub)
    add_compare_parser(sub)
    add_report_parser(sub)
    add_log_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    handler: Handler = args.handler
    try:
        return handler(args, out)
    except McubenchError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}")
        return exit_code_for(exc)
    except KeyboardInterrupt:
        err.print("interrupted")
        return exit_code_for(KeyboardInterrupt())


if __name__ == "__main__":
    sys.exit(main())
