"""hpo's Ray worker pool against Ray Tune, measured side by side on one local Ray.

    python bench/bench_sweep.py                  # both parts, 3 repeats, medians
    python bench/bench_sweep.py overhead --repeats 5
    python bench/bench_sweep.py early-stopping
    python bench/bench_sweep.py startup --repeats 5

Startup: whole processes the way a user runs them: `hpo sweep` of 40 trials of a 20 ms
objective on 2 workers (embedded coordinator, SQLite), a bare `ray.init()` + `ray.shutdown()`,
the same bare Ray started and stopped the way `hpo sweep` starts and stops a local Ray of its
own (each up to a second sooner: hpo.workers._local_ray), and the same 40 trials as a Ray Tune
script, each started cold, interleaved; what each sweep adds to the Ray it runs and the ideal
work (40 x 20 ms / 2 = 0.4 s): hpo against the bare Ray with hpo's start and stop, Tune
against the bare Ray with Ray's own (medians over repeats, each repeat's sweeps against that
repeat's bare Ray). All four start a local Ray without Ray's dashboard (as `hpo sweep` does),
each once the Ray daemons of the one before have exited (they go on stopping after their
driver exits, and slowed the next start by up to a second).

Overhead: 200 trials of a 20 ms objective, 2 workers (1 CPU each), TPE: wall time against
the ideal (200 x 20 ms / 2) and against Ray Tune (Tuner + OptunaSearch, reuse_actors=True,
2 concurrent trials). Early stopping: the digits SGD sweep, 60 trials x up to 30 epochs, 2
workers: epochs trained and best validation accuracy with no pruning, hpo's successive
halving and median pruners, and Ray Tune's ASHA scheduler (with OptunaSearch) on the same
budget; one seed per repeat, medians over repeats.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throwaway local cluster for the bench
import ray  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import _objectives  # noqa: E402
from hpo.workers import run_sweep  # noqa: E402

import hpo  # noqa: E402

OBJECTIVES = str(Path(_objectives.__file__).resolve())
N_OVERHEAD, N_DIGITS, EPOCHS, N_STARTUP = 200, 60, 30, 40


class TuneTrial:
    """Optuna's trial API over a Tune config, so both sides run the very same objective."""

    def __init__(self, config: dict, number: int = 0) -> None:
        self.config, self.number = config, number

    def suggest_float(self, name: str, low: float, high: float, **_: object) -> float:
        return self.config[name]

    def suggest_categorical(self, name: str, choices: object) -> object:
        return self.config[name]

    def report(self, value: float, step: int) -> None:
        from ray import tune

        tune.report({"accuracy": value, "epoch": step + 1})

    def should_prune(self) -> bool:
        return False  # ASHA stops the trial itself

    def log_data(self, data: object, name: str | None = None) -> None:
        pass  # lineage is hpo's; Tune's side of the comparison records none

    def log_artifact(self, path: object, name: str | None = None) -> None:
        pass


def tune_run(trainable, space: dict, n: int, metric: str, mode: str, seed: int, scheduler=None):
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    quiet = contextlib.redirect_stdout(io.StringIO())  # Tune prints where its results went
    tuner = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(
            search_alg=OptunaSearch(metric=metric, mode=mode, seed=seed),
            scheduler=scheduler,
            num_samples=n,
            max_concurrent_trials=2,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(), verbose=0),
    )
    with quiet:
        return tuner.fit()


def overhead(repeats: int) -> None:
    from ray import tune

    def trainable(config: dict) -> None:
        tune.report({"loss": _objectives.sleep_20ms(TuneTrial(config))})

    ideal = N_OVERHEAD * _objectives.SLEEP_SECONDS / 2
    ours, theirs = [], []
    for seed in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            run_sweep(
                f"{OBJECTIVES}:sleep_20ms",
                study="overhead",
                n_trials=N_OVERHEAD,
                workers=2,
                sampler={"name": "tpe", "seed": seed},
                pruner="none",
                storage=f"sqlite:///{tmp}/bench.db",
                progress=False,
            )
            ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        tune_run(trainable, {"x": tune.uniform(0.0, 1.0)}, N_OVERHEAD, "loss", "min", seed)
        theirs.append(time.perf_counter() - start)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"# overhead: {N_OVERHEAD} trials x 20 ms, 2 workers, TPE; median of {repeats}")
    print(
        f"ideal {ideal:.2f} s | hpo {a:.2f} s ({a / ideal:.2f}x ideal) | "
        f"Ray Tune {b:.2f} s ({b / ideal:.2f}x ideal) | hpo is {b / a:.1f}x faster",
        flush=True,
    )


def early_stopping(repeats: int) -> None:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    def trainable(config: dict) -> None:
        _objectives.digits(TuneTrial(config))

    space = {
        "loss": tune.choice(["hinge", "log_loss", "modified_huber"]),
        "penalty": tune.choice(["l2", "l1", "elasticnet"]),
        "alpha": tune.loguniform(1e-6, 1e-1),
        "eta0": tune.loguniform(1e-4, 1.0),
    }
    pruners = {
        "none": {"name": "none"},
        # Same rungs as the ASHA run below: first rung after 1 epoch, keep 1 in 4.
        "hpo successive_halving": {
            "name": "successive_halving",
            "min_resource": 1,
            "reduction_factor": 4,
        },
        "hpo median": {"name": "median", "n_startup_trials": 5, "n_warmup_steps": 3},
    }
    rows: dict[str, list[tuple[int, float, float]]] = {k: [] for k in [*pruners, "Ray Tune ASHA"]}
    for seed in range(repeats):
        for label, pruner in pruners.items():
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                result = run_sweep(
                    f"{OBJECTIVES}:digits",
                    study="digits",
                    n_trials=N_DIGITS,
                    direction="maximize",
                    workers=2,
                    sampler={"name": "tpe", "seed": seed},
                    pruner=pruner,
                    storage=f"sqlite:///{tmp}/bench.db",
                    progress=False,
                )
                seconds = time.perf_counter() - start
                trials = hpo.load_study("digits", storage=f"sqlite:///{tmp}/bench.db").trials
            epochs = sum(len(t.intermediate_values) for t in trials)
            rows[label].append((epochs, result.best_trials[0].value, seconds))
        start = time.perf_counter()
        scheduler = ASHAScheduler(
            metric="accuracy",
            mode="max",
            time_attr="epoch",
            max_t=EPOCHS,
            grace_period=1,
            reduction_factor=4,
        )
        results = tune_run(trainable, space, N_DIGITS, "accuracy", "max", seed, scheduler)
        frame = results.get_dataframe()
        epochs = int(frame["epoch"].sum())
        best = float(frame["accuracy"].where(frame["epoch"] == EPOCHS).max())
        rows["Ray Tune ASHA"].append((epochs, best, time.perf_counter() - start))
    print(
        f"# early stopping: digits SGD, {N_DIGITS} trials x up to {EPOCHS} epochs, "
        f"2 workers, TPE; median of {repeats} seeds"
    )
    full = statistics.median(r[0] for r in rows["none"])
    print(f"{'':<24} {'epochs':>7} {'vs none':>8} {'best acc':>9} {'seconds':>8}")
    for label, runs in rows.items():
        epochs = statistics.median(r[0] for r in runs)
        acc = statistics.median(r[1] for r in runs)
        secs = statistics.median(r[2] for r in runs)
        print(
            f"{label:<24} {epochs:>7.0f} {full / epochs:>7.1f}x {acc:>9.4f} {secs:>8.1f}",
            flush=True,
        )


_BARE_RAY = "import ray; ray.init(include_dashboard=False); ray.shutdown()"
# The same, started and stopped the way `hpo sweep` starts and stops a local Ray of its own
# (socket connects retried every 50 ms instead of every second; its monitor killed first
# instead of waited on: hpo.workers._local_ray): the baseline of what hpo itself adds.
# It must import nothing more than Ray (until 2026-11-28 it imported hpo's SDK, Optuna and
# gRPC through the `hpo` package, 0.2-0.3 s here that then went unseen in what hpo adds):
# it fails the bench if it does.
_BARE_RAY_HPO_STOP = (
    "import sys, ray; from hpo.workers._local_ray import start_options, stop_ray; "
    "assert not {'optuna', 'grpc', 'sqlalchemy'} & set(sys.modules), 'baseline too heavy'; "
    "ray.init(include_dashboard=False, **start_options(None)); stop_ray()"
)


def _ray_processes() -> int:
    """How many Ray daemons (raylet, gcs_server) run on this machine now."""
    count = 0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            count += comm.read_text().strip() in ("raylet", "gcs_server")
    return count


def _seconds(command: list[str], cwd: str, settled: int) -> float:
    """Wall time of ``command`` as its own process, started once the Ray daemons the one
    before left behind are gone (back to ``settled``, at most 20 s): each starts on a machine
    as quiet as the others did. Its failure fails the bench."""
    give_up = time.monotonic() + 20
    while _ray_processes() > settled and time.monotonic() < give_up:
        time.sleep(0.1)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return seconds


def startup(repeats: int) -> None:
    here = Path(__file__).parent
    hpo_cli = str(Path(sys.executable).parent / "hpo")
    ideal = N_STARTUP * _objectives.SLEEP_SECONDS / 2
    runs: dict[str, list[float]] = {
        "bare Ray": [],
        "bare Ray, hpo's start/stop": [],
        "hpo sweep": [],
        "Ray Tune": [],
    }
    settled = _ray_processes()
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            runs["bare Ray"].append(_seconds([sys.executable, "-c", _BARE_RAY], tmp, settled))
            bare_fast = [sys.executable, "-c", _BARE_RAY_HPO_STOP]
            runs["bare Ray, hpo's start/stop"].append(_seconds(bare_fast, tmp, settled))
            sweep = [hpo_cli, "sweep", f"{OBJECTIVES}:sleep_20ms", "--study", "startup"]
            sweep += ["--trials", str(N_STARTUP), "--workers", "2", "--pruner", "none"]
            sweep += ["--db", f"sqlite:///{tmp}/s.db"]
            runs["hpo sweep"].append(_seconds(sweep, tmp, settled))
            tune = [sys.executable, str(here / "_tune_sweep.py"), str(N_STARTUP)]
            runs["Ray Tune"].append(_seconds(tune, tmp, settled))
    print(
        f"# startup: {N_STARTUP} trials x 20 ms on 2 workers, whole processes, "
        f"median of {repeats}; ideal work {ideal:.2f} s"
    )

    # Each repeat's bare Ray is the baseline of the sweeps run right after it: Ray's own start
    # moves by a second or more from one minute to the next on a shared machine.
    def beyond(label: str, baseline: str) -> float:
        pairs = zip(runs[label], runs[baseline], strict=True)
        return statistics.median(s - b - ideal for s, b in pairs)

    hpo_own = beyond("hpo sweep", "bare Ray, hpo's start/stop")  # what hpo adds to its Ray
    tune_own = beyond("Ray Tune", "bare Ray")  # Tune stops Ray as ray.shutdown() does
    print(f"{'':<27} {'seconds':>8} {'beyond the same Ray start/stop + ideal':>40}")
    for label, seconds in runs.items():
        extra = {"hpo sweep": hpo_own, "Ray Tune": tune_own}.get(label)
        shown = f"{extra:>39.2f}s" if extra is not None else ""
        print(f"{label:<27} {statistics.median(seconds):>8.2f} {shown}", flush=True)
    ratio = tune_own / hpo_own if hpo_own > 0 else float("inf")
    print(f"Ray Tune adds {ratio:.1f}x what hpo sweep adds to the Ray each runs")
    print(
        "hpo sweep against a user's own Ray start and ray.shutdown() + ideal: "
        f"{beyond('hpo sweep', 'bare Ray'):+.2f} s (its start and stop skip Ray's one-second waits)"
    )
    print(
        "per repeat (bare Ray / bare Ray, hpo's start/stop / hpo sweep / Ray Tune, s): "
        + ", ".join("/".join(f"{s:.2f}" for s in row) for row in zip(*runs.values(), strict=True))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "part",
        nargs="?",
        choices=["overhead", "early-stopping", "startup", "all"],
        default="all",
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.part in ("startup", "all"):
        startup(args.repeats)  # before this process starts a Ray of its own
    if args.part == "startup":
        return
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    if args.part in ("overhead", "all"):
        overhead(args.repeats)
    if args.part in ("early-stopping", "all"):
        early_stopping(args.repeats)


if __name__ == "__main__":
    main()
