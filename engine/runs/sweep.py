"""`netcanvas sweep`: an Optuna study whose every trial is a run in the store.

The study lives in a database Optuna opens by URL: an SQLite file in the
sweep's folder (`<runs>/sweeps/<name>/study.db`) by default, or any URL
Optuna accepts (PostgreSQL, MySQL) so workers on several machines join the
same sweep with `--join NAME --storage URL`. The sweep's definition is kept
in the study itself, so a joining worker needs only the name and the URL.

Re-running the same command continues the same study: the name is derived
from the document and the definition. Trials a killed process left RUNNING
are marked failed and their parameters queued again; the sweep then runs
until it has its N finished trials. Hopeless trials are pruned from their
epoch metrics (a median pruner fed from the Epoch events).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.runs.space import ParamSpec, SweepError, apply_param, check_param, parse_param
from engine.runs.store import CRASHED, RUN_FILE, list_runs, pid_alive, write_json

FINISHED = ("COMPLETE", "PRUNED", "FAIL")


@dataclass
class SweepPlan:
    """Everything that defines a sweep; stored in the study so that workers agree on it."""

    file: str
    params: list[str]
    metric: str
    direction: str = "maximize"
    search: str = "tpe"
    trials: int = 10
    epochs: int | None = None
    seed: int | None = None
    device: str | None = None
    name: str = ""
    runs: str = "runs"
    storage: str = ""
    prune: bool = True
    joined: bool = False  # a worker joining a study: its sampler is not seeded like the first one's
    specs: list[ParamSpec] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.direction in ("max", "min"):
            self.direction = {"max": "maximize", "min": "minimize"}[self.direction]
        if self.direction not in ("maximize", "minimize"):
            raise SweepError(f"--direction {self.direction}: expected max or min")
        if self.search not in ("grid", "random", "tpe"):
            raise SweepError(f"--search {self.search}: expected grid, random or tpe")
        self.specs = [parse_param(text) for text in self.params]
        if not self.specs:
            raise SweepError("a sweep needs at least one --param PATH=VALUES")
        if self.search == "grid":
            size = 1
            for spec in self.specs:
                size *= len(spec.grid())
            self.trials = min(self.trials, size) if self.trials else size
        if self.trials < 1:
            raise SweepError("--trials must be at least 1")
        self.name = self.name or default_name(self)
        folder = Path(self.runs) / "sweeps" / self.name
        self.storage = self.storage or f"sqlite:///{folder.resolve() / 'study.db'}"

    @property
    def folder(self) -> Path:
        return Path(self.runs) / "sweeps" / self.name

    def definition(self) -> dict[str, Any]:
        keep = ("params", "metric", "direction", "search", "trials", "epochs", "seed", "device", "prune")
        return {k: v for k, v in asdict(self).items() if k in keep}


def default_name(plan: SweepPlan) -> str:
    """`<document>-<hash of the definition>`: the same command finds the same study again."""
    from engine.runs.store import short_name

    text = json.dumps([Path(plan.file).name, plan.definition()], sort_keys=True, default=str)
    return f"{short_name(Path(plan.file).stem)}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


# ---- the study ------------------------------------------------------------------------


def load_definition(name: str, url: str) -> dict[str, Any]:
    """A sweep's stored definition, for a worker that joins it by name (`--join NAME --storage URL`)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=name, storage=_storage(url))
    except KeyError:
        raise SweepError(f"--join {name}: no such sweep in {_redact(url)}") from None
    definition = study.user_attrs.get("definition")
    if not isinstance(definition, dict):
        raise SweepError(f"--join {name}: the study in {_redact(url)} was not made by netcanvas sweep")
    return definition


def open_study(plan: SweepPlan) -> Any:
    """Create the study, or load it (a resumed or joined sweep), with its sampler and pruner."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if plan.storage.startswith("sqlite:///"):
        plan.folder.mkdir(parents=True, exist_ok=True)
    storage = _storage(plan.storage)
    study = optuna.create_study(
        study_name=plan.name, storage=storage, load_if_exists=True, direction=plan.direction,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    )
    # Seeded past the trials already made: a resumed random search does not repeat its first points.
    study.sampler = _sampler(plan, len(study.trials))
    if "definition" not in study.user_attrs:
        study.set_user_attr("definition", plan.definition())
    return study


def _storage(url: str) -> Any:
    """SQLite as given; a server database with heartbeats, so a dead machine's trial is retried."""
    import optuna

    if url.startswith("sqlite"):
        return url
    return optuna.storages.RDBStorage(
        url, heartbeat_interval=30, grace_period=120,
        failed_trial_callback=optuna.storages.RetryFailedTrialCallback(max_retry=3))


def _sampler(plan: SweepPlan, made: int) -> Any:
    import optuna

    seed = None if plan.joined else (plan.seed or 0) + made
    if plan.search == "grid":
        return optuna.samplers.GridSampler({s.path: s.grid() for s in plan.specs}, seed=seed)
    if plan.search == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def recover_abandoned(study: Any, plan: SweepPlan) -> list[int]:
    """Trials left RUNNING by a process of this machine that is gone: mark failed, queue again.

    Their run folders, left "running", are marked failed too.
    """
    from optuna.trial import TrialState

    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        pid = int(attrs.get("pid", 0))
        if attrs.get("host") != socket.gethostname() or pid <= 0 or pid_alive(pid):
            continue
        study._storage.set_trial_user_attr(trial._trial_id, "abandoned", True)
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})
        recovered.append(trial.number)
    for run in list_runs(plan.runs):
        if (run.record.get("sweep") or {}).get("name") == plan.name and run.status == CRASHED:
            run.record.update(status="failed", reason="the sweep's process stopped during this trial")
            write_json(run.path / RUN_FILE, run.record)
    return recovered


def done_count(study: Any) -> int:
    """Finished trials that count towards N: not those abandoned and queued again."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    retried |= {t.system_attrs.get("failed_trial") for t in trials}  # queued again by a heartbeat
    return sum(1 for t in trials if t.state.name in FINISHED
               and not t.user_attrs.get("abandoned") and t.number not in retried)


# ---- one trial --------------------------------------------------------------------------


def make_objective(plan: SweepPlan, say: Callable[[str], None]) -> Callable[[Any], float]:
    """The function Optuna calls per trial: a recorded training run of the swept document."""
    from engine import load_document

    base = load_document(plan.file)
    for spec in plan.specs:
        check_param(base, spec)

    def objective(trial: Any) -> float:
        trial.set_user_attr("pid", os.getpid())  # first: how a later run tells it was abandoned
        trial.set_user_attr("host", socket.gethostname())
        values = {spec.path: spec.suggest(trial) for spec in plan.specs}
        doc = base.copy()
        for path, value in values.items():
            apply_param(doc, path, value)
        return run_trial(plan, trial, doc, values, say)

    return objective


def run_trial(plan: SweepPlan, trial: Any, doc: Any, values: dict[str, Any],
              say: Callable[[str], None]) -> float:
    import optuna

    from engine.runs.recorder import RunRecorder
    from engine.training import RunOptions, make_trainer
    from engine.training.events import Epoch, Failed, Finished

    options = RunOptions(device=plan.device, seed=plan.seed, epochs=plan.epochs)
    trainer = make_trainer(doc, options)
    sweep = {"name": plan.name, "trial": trial.number, "params": values, "metric": plan.metric,
             "direction": plan.direction, "folder": str(plan.folder.resolve())}
    recorder = RunRecorder(plan.runs, doc, options, source="sweep", sweep=sweep, document_file=plan.file)
    trial.set_user_attr("run_id", recorder.id)
    pruned, result = False, None
    for event in recorder.watch(trainer.run()):
        if isinstance(event, Epoch) and plan.prune and not pruned:
            value = epoch_metric(event, plan.metric)
            if value is not None:
                trial.report(value, event.epoch)
                if trial.should_prune():
                    pruned = True
                    recorder.outcome = ("pruned", f"pruned after epoch {event.epoch}: {plan.metric} {value:.4g}")
                    trainer.stop()
        elif isinstance(event, Finished | Failed):
            result = event
    shown = ", ".join(f"{k}={v}" for k, v in values.items())
    if pruned:
        say(f"trial {trial.number}: {shown} pruned ({recorder.id})")
        raise optuna.TrialPruned()
    if isinstance(result, Failed):
        say(f"trial {trial.number}: {shown} failed: {result.message} ({recorder.id})")
        raise TrialFailed(result.message)
    value = final_metric(result.metrics if result else {}, plan.metric)
    say(f"trial {trial.number}: {shown} -> {plan.metric} {value:.4g} ({recorder.id})")
    return value


class TrialFailed(Exception):
    """A trial's training failed; Optuna records it as FAIL and the sweep goes on."""


def epoch_metric(event: Any, metric: str) -> float | None:
    """The metric in an epoch's numbers: `val_accuracy`, `train_loss`, or `test_x` read as `val_x`."""
    for prefix, part in (("val_", event.val), ("train_", event.train), ("test_", event.val)):
        if metric.startswith(prefix) and metric[len(prefix):] in part:
            return float(part[metric[len(prefix):]])
    for part in (event.val, event.train):
        if metric in part:
            return float(part[metric])
    return None


def final_metric(metrics: dict[str, Any], metric: str) -> float:
    value = metrics.get(metric)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    known = ", ".join(k for k, v in metrics.items() if isinstance(v, int | float)) or "none"
    raise TrialFailed(f"the run has no metric '{metric}' (it has: {known})")


# ---- the whole sweep -------------------------------------------------------------------


def run_sweep(plan: SweepPlan, jobs: int = 1, say: Callable[[str], None] = print,
              quota: int | None = None) -> Any:
    """Run (or resume, or join) the sweep until it has its trials; returns the study.

    With `jobs` > 1 the remaining trials are shared out between this process
    and `jobs - 1` workers it starts; `quota` is a started worker's share.
    """
    study = open_study(plan)
    for number in recover_abandoned(study, plan):
        say(f"trial {number} was left running by a process that stopped: it runs again")
    remaining = plan.trials - done_count(study)
    if quota is not None:
        remaining = min(remaining, quota)
    if remaining <= 0:
        return study
    say(f"sweep {plan.name}: {remaining} of {plan.trials} trials to run "
        f"(study {_redact(plan.storage)})")
    jobs = max(1, min(jobs, remaining))
    shares = [remaining // jobs + (1 if i < remaining % jobs else 0) for i in range(jobs)]
    workers = [_spawn_worker(plan, share) for share in shares[1:]]
    _optimize(study, plan, shares[0], say)
    for worker in workers:
        worker.wait()
    return study


def _optimize(study: Any, plan: SweepPlan, trials: int, say: Callable[[str], None]) -> None:
    def enough(study: Any, trial: Any) -> None:  # workers on other machines share the count
        if done_count(study) >= plan.trials:
            study.stop()

    study.optimize(make_objective(plan, say), n_trials=trials, catch=(TrialFailed,),
                   callbacks=[enough], gc_after_trial=False)


def _spawn_worker(plan: SweepPlan, share: int) -> subprocess.Popen:
    """Another process joining the same study (`--jobs J`): trials in parallel on one machine."""
    command = [sys.executable, "-m", "engine.cli", "sweep", plan.file, "--join", plan.name,
               "--storage", plan.storage, "--runs", str(plan.runs), "--quiet", "--no-table",
               "--worker-trials", str(share)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_root(), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


def _root() -> str:
    return str(Path(__file__).resolve().parents[2])


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return url


def results(study: Any, plan: SweepPlan) -> list[dict[str, Any]]:
    """The trials, best first: complete ones by their value, then pruned, then failed."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state.name not in FINISHED or trial.user_attrs.get("abandoned"):
            continue
        rows.append({"trial": trial.number, "state": trial.state.name.lower(), "value": trial.value,
                     "params": dict(trial.params), "run": trial.user_attrs.get("run_id")})
    sign = -1.0 if plan.direction == "maximize" else 1.0
    order = {"complete": 0, "pruned": 1, "fail": 2}
    rows.sort(key=lambda r: (order[r["state"]], sign * r["value"] if r["value"] is not None else 0, r["trial"]))
    return rows


def format_results(rows: list[dict[str, Any]], plan: SweepPlan) -> str:
    paths = [spec.path for spec in plan.specs]
    lines = [["rank", "trial", "state", plan.metric, *paths, "run"]]
    for rank, row in enumerate(rows, 1):
        value = f"{row['value']:.4g}" if row["value"] is not None else "-"
        lines.append([str(rank), str(row["trial"]), row["state"], value,
                      *(_short(row["params"].get(p)) for p in paths), row["run"] or "-"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
