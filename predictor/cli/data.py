"""Commands on cohorts and scenarios: ``scenarios``, ``generate``, ``calibrate``."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from features import atomic_write
from predictor.cli.common import EXIT_TARGET_MISSED, UsageError, progress_bar
from synthetic import available_scenarios, generate, load_scenario, report, solve
from synthetic.errors import CohortIOError
from synthetic.scenario import write_values


def cmd_scenarios(args: argparse.Namespace) -> int:

    for name in available_scenarios():
        sc = load_scenario(name)
        print(f"{name:16s} n={sc.default_n:<6d} {sc.title}")
    return 0


def cmd_scenario_check(args: argparse.Namespace) -> int:
    """Load a scenario file (every problem at once), print its graph and which targets identify
    each free parameter; exit 1 when a free parameter or a target is not identified."""
    from synthetic.identifiability import identifiability  # late: only this command needs it

    scenario = load_scenario(args.scenario)
    print(f"scenario '{scenario.name}': {scenario.title}")
    print(f"  file: {scenario.path}")
    print("\ngraph (random draws in this order; each node with what it reads):")
    graph = scenario.model.graph
    for node in graph.nodes:
        kind = f"{'outcome' if node.is_outcome else 'variable'} {node.kind}"
        reads = ", ".join(sorted(node.deps)) or "-"
        print(f"  {node.name:28s} {kind:24s} <- {reads}")
    for column in graph.truth:
        print(f"  {column.name:28s} {'truth':24s} <- {', '.join(sorted(column.expr.names))}")
    _print_attainability(scenario)
    found = identifiability(scenario, n=args.n)
    print("\nfree parameters and the targets that move them (tolerances across the bounds):")
    for p in scenario.free:
        moved = found.identified_by(p.name)
        sizes = ", ".join(f"{t} ({found.sensitivity.loc[t, p.name]:+.0f})" for t in moved) or "none"
        print(f"  {p.name:32s} {sizes}")
    if found.problems:
        print(f"\n{len(found.problems)} problem(s):")
        for line in found.problems:
            print(f"  - {line}")
        return EXIT_TARGET_MISSED
    print("\nno problems: every free parameter is moved by a target, every target by a free parameter")
    return 0


def _print_attainability(scenario: Any) -> None:
    """The unobserved nodes, and for each outcome the latents it reads and what the oracle does."""
    from synthetic.attainable import attainability  # late: only this command needs it

    inputs = {c.name for c in scenario.schema.by_role("feature", "treatment")}
    hidden = [n.name for n in scenario.model.graph.nodes if not set(n.outputs) & set(scenario.schema.names)]
    print(f"\nunobserved nodes: {', '.join(hidden) or 'none'}; model inputs: {', '.join(sorted(inputs))}")
    for name, a in attainability(scenario.model).items():
        if not a.latents:
            line = "reads no latent: the attainable oracle is the full truth"
        elif a.fallback:
            line = f"reads latent(s) {', '.join(a.latents)}; the oracle keeps the full truth: {a.fallback}"
        else:
            line = f"reads latent(s) {', '.join(a.latents)}, integrated out: the attainable oracle is below the truth"
        print(f"  {name:28s} {line}")


def cmd_keys(args: argparse.Namespace) -> int:
    """Every key of one file kind, from the tables the files are checked against."""
    from predictor.config.reference import key_text  # late: only this command needs the reference

    print(key_text(args.kind), end="")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:

    scenario = load_scenario(args.scenario)
    n = args.n if args.n is not None else scenario.default_n
    out = Path(args.out)
    folder = out.parent if str(out.parent) else Path(".")

    # Fail before spending time generating.
    if out.suffix.lower() != ".parquet":  # a cohort is Parquet with its provenance: a .csv name would lie
        raise CohortIOError(
            f"cannot write {out}: a cohort is written as Parquet (with its provenance); "
            f"name it {out.with_suffix('.parquet').name}, and convert with pandas if you need a CSV"
        )
    if not folder.is_dir():
        raise CohortIOError(f"cannot write {out}: folder {folder} does not exist")
    start = time.perf_counter()
    with progress_bar(n, f"generating {scenario.name}", "patients", not args.quiet) as bar:
        cohort = generate(scenario, n, args.seed, progress=bar.update)
    obs_path, truth_path = cohort.save(out)
    took = time.perf_counter() - start
    print(f"wrote {cohort.n:,} patients of scenario '{scenario.name}' (seed {args.seed}) in {took:.1f} s")
    print(f"  observed: {obs_path}")
    print(f"  truth:    {truth_path}  (never a model input)")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    if args.write and not args.solve:
        raise UsageError("--write needs --solve")
    if args.solve:
        scenario = _solve(args, scenario)
    return _check(args, scenario)


def _solve(args: argparse.Namespace, scenario: Any) -> Any:
    """``--solve`` (and ``--write``): the scenario with its free parameters solved, once every
    free parameter is moved by a target (else the solver would leave it where it starts)."""
    from synthetic.identifiability import identifiability  # late: only solving needs it

    problems = identifiability(scenario, n=min(args.solve_n, 100_000)).problems
    if problems:
        where = scenario.path or scenario.name
        raise UsageError(f"{where}: cannot solve: {'; '.join(problems)} (details: predictor scenario check)")
    start = time.perf_counter()
    with progress_bar(None, f"solving {len(scenario.free)} free parameters", "evals", not args.quiet) as bar:

        def tick(k: int, cost: float) -> None:
            bar.update(1)
            bar.set_postfix(cost=f"{cost:.3g}")

        result = solve(scenario, n=args.solve_n, progress=tick)
    print(
        f"solved in {time.perf_counter() - start:.0f} s ({result.nfev} evaluations, "
        f"{'converged' if result.success else 'NOT converged'}: {result.message})"
    )
    for name, value in result.values.items():
        print(f"  {name:32s} {scenario.parameters[name].value!s:>12} -> {value:.6g}")
    scenario = scenario.with_values(result.values)
    if args.write:
        dest = Path(args.write)
        src = scenario.path
        if src is None or not Path(src).is_file():
            raise UsageError("cannot --write: the scenario has no source file")
        try:
            with atomic_write(dest) as tmp:
                shutil.copyfile(src, tmp)
                write_values(tmp, result.values)
        except OSError as exc:
            raise UsageError(f"cannot write {dest}: {exc.strerror or exc}") from None
        print(f"wrote the solved scenario to {dest}")
    return scenario


def _check(args: argparse.Namespace, scenario: Any) -> int:
    """The calibration report: every target on the population and in trial-sized replicates."""
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = progress_bar(total, stage, "", not args.quiet)
        bar = bars[stage]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    start = time.perf_counter()
    rep = report(
        scenario,
        population_n=args.population_n,
        replicates=args.replicates,
        replicate_n=args.replicate_n,
        progress=progress,
    )
    print(f"\nCalibration of '{scenario.name}' ({scenario.title})")
    print(
        f"population seed {rep.population_seed}, replicate seeds {rep.replicate_seed}.."
        f"{rep.replicate_seed + rep.replicates - 1}; {time.perf_counter() - start:.0f} s\n"
    )
    print(rep.to_text())
    if rep.passed:
        print("\nall targets within tolerance")
        return 0
    print(f"\ntargets missed: {', '.join(rep.failures)}", file=sys.stderr)
    return EXIT_TARGET_MISSED
