"""Watch a running study: what it has spent, the forecast of its end, and the budget's verdict.

:func:`snapshot` reads a study as its storage holds it now (an Optuna storage any number of
workers write to, or a Ray Tune experiment folder) and returns a :class:`WatchState`: the
totals spent, the :class:`~tunecost.live.Forecast` of the final ones, the fraction of the
budget used and :meth:`Budget.verdict <tunecost.live.Budget.verdict>`, the one stop rule the
callbacks apply too. ``tunecost watch`` calls it every few seconds and renders it.

A forecast costs seconds (a recalibration and replays), the rest milliseconds, so a forecast
is computed only when it is new: when the number of finished trials changed since the
``previous`` state, and when no forecast of the same trials is stored by a callback
(``tunecost.optuna.CostBudget``'s study user attributes :meth:`Forecast.attrs
<tunecost.live.Forecast.attrs>`, a Ray Tune callback's
:data:`~tunecost.live.ray_ledger.FORECAST_FILE`). A stored one is used only where its spent
energy is the one computed here (the same trials, the same accounting); else it is
recomputed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tunecost.calibrate.shared import N_TRIALS_ATTR
from tunecost.exceptions import ConfigError
from tunecost.live._forecast import ATTR, Forecast, forecast
from tunecost.live.budget import STOP_ATTR, Budget
from tunecost.live.ray_ledger import FORECAST_FILE
from tunecost.live.settings import ForecastSettings
from tunecost.live.so_far import StudySoFar
from tunecost.live.totals import spent

__all__ = ["WatchSource", "WatchState", "snapshot"]

_QUANTILES = ("p5", "p50", "p95")


@dataclass(frozen=True)
class WatchSource:
    """Where a watched study lives: an Optuna storage and study, or a Ray Tune experiment.

    Attributes:
        kind: ``optuna`` or ``ray``.
        optuna_storage, study: the Optuna storage URL or file, and the study's name.
        ray_results: the Ray Tune experiment folder.
        metric, mode: the objective key in the Ray results and its direction.
    """

    kind: Literal["optuna", "ray"]
    optuna_storage: str | None = None
    study: str | None = None
    ray_results: Path | None = None
    metric: str | None = None
    mode: str | None = None

    @classmethod
    def of(cls, *, optuna_storage: str | None = None, study: str | None = None,
           ray_results: str | Path | None = None, metric: str | None = None,
           mode: str | None = None) -> WatchSource:
        """The source from exactly one of ``optuna_storage`` (with ``study``) and
        ``ray_results`` (with ``metric``).

        Raises:
            ConfigError: neither or both given, or one without its companion.

        Example:
            >>> WatchSource.of(optuna_storage="sqlite:///s.db", study="s").kind
            'optuna'
        """
        if (optuna_storage is None) == (ray_results is None):
            raise ConfigError("watch one study: give either --optuna-storage (with --study) or "
                              f"--ray-results (with --metric), not "
                              f"{'both' if optuna_storage is not None else 'neither'}")
        if optuna_storage is not None:
            if study is None:
                raise ConfigError("--optuna-storage needs --study (the study's name)")
            if metric is not None:
                raise ConfigError("--metric is for --ray-results; an Optuna study knows its "
                                  "objective")
            return cls(kind="optuna", optuna_storage=optuna_storage, study=study)
        if metric is None:
            raise ConfigError("--ray-results needs --metric (the objective key the trials "
                              "report)")
        if study is not None:
            raise ConfigError("--study is for --optuna-storage; a Ray experiment is named by "
                              "its folder")
        return cls(kind="ray", ray_results=Path(ray_results), metric=metric,  # type: ignore[arg-type]
                   mode=mode)


@dataclass(frozen=True)
class WatchState:
    """A watched study at one moment.

    Attributes:
        source: where the study lives.
        study: its name.
        n_trials: trials it runs in all.
        n_finished, n_running: trials finished (COMPLETE, PRUNED, FAIL) / running now.
        now_s: the moment, POSIX s (a finished study's: its last trial's end).
        spent: metric -> total so far (:data:`~tunecost.live.METRICS`).
        forecast: the forecast of the final totals (``None``: a Ray experiment without a
            ``strategy``, spent only; a forecast with ``basis == "none"`` has no band).
        forecast_from: ``computed`` (now), ``previous`` (the same finished trials as the
            previous state), ``study user attrs`` or the stored JSON file's path.
        budget: the budget watched, or ``None``.
        verdict: :meth:`Budget.verdict`: why the study must stop now, or ``None``.
        stop_reason: why a budget callback stopped the study, where it stored one.
        done: the study has run its trials (or a callback stopped it and nothing runs).
        settings: the forecast's settings.
        notes: what was assumed, one line each.
    """

    source: WatchSource
    study: str
    n_trials: int
    n_finished: int
    n_running: int
    now_s: float
    spent: dict[str, float]
    forecast: Forecast | None
    forecast_from: str
    budget: Budget | None
    verdict: str | None
    stop_reason: str | None
    done: bool
    settings: ForecastSettings
    notes: tuple[str, ...] = ()

    def fraction(self, which: str = "spent") -> float | None:
        """The budget's fraction ``spent`` so far, or the forecast's ``p5``/``p50``/``p95``
        of the final total over the limit; ``None`` without a budget or that figure."""
        if self.budget is None:
            return None
        if which == "spent":
            value = self.spent.get(self.budget.metric)
        else:
            value = (getattr(self.forecast, which).get(self.budget.metric)
                     if self.forecast is not None else None)
        return None if value is None else value / self.budget.limit

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-ready data (``schema_version`` 1); ``forecast`` is
        :meth:`Forecast.to_dict` (or ``null``), ``budget`` the limit and its fractions."""
        budget = None
        if self.budget is not None:
            budget = {"metric": self.budget.metric, "limit": self.budget.limit,
                      "unit": self.budget.unit, "stop_when": self.budget.stop_when,
                      "left": self.budget.left(self.spent),
                      "used_fraction": self.fraction("spent"),
                      **{f"forecast_{q}_fraction": self.fraction(q) for q in _QUANTILES}}
        return {"schema_version": 1, "source": self.source.kind, "study": self.study,
                "n_trials": self.n_trials, "n_finished": self.n_finished,
                "n_running": self.n_running, "now_s": self.now_s, "done": self.done,
                "spent": self.spent,
                "forecast": None if self.forecast is None else self.forecast.to_dict(),
                "forecast_from": self.forecast_from, "budget": budget,
                "verdict": self.verdict, "stop_reason": self.stop_reason,
                "notes": list(self.notes)}


def snapshot(source: WatchSource, *, n_trials: int | None = None,
             budget: Budget | None = None, previous: WatchState | None = None,
             now_s: float | None = None, **settings: Any) -> WatchState:
    """The study now: spent, forecast, budget fraction and verdict.

    Args:
        source: the study (:meth:`WatchSource.of`).
        n_trials: trials the study runs in all (default: its ``tunecost:n_trials`` study
            user attribute, or the stored Ray forecast's).
        budget: the budget to judge (``None``: none).
        previous: the state of the last call; its forecast is kept while the same trials
            are finished (the same settings).
        now_s: the moment, POSIX s (default: now, or a finished study's last trial's end).
        **settings: :class:`~tunecost.live.ForecastSettings` fields other than
            ``n_trials`` (``g_co2e_per_kwh``, ``usd_per_kwh``, ``prior``, ``strategy``, ...).

    Returns:
        The :class:`WatchState`.

    Raises:
        ConfigError: the storage, study or folder is not there; no trial count is stored or
            given; the budget is in kgCO2e (or $) and no intensity (or price) is given; a
            setting breaks its rule.
        pydantic.ValidationError: a settings field breaks its rule.
    """
    if budget is not None:
        _check_priced(budget, settings)
    if source.kind == "optuna":
        so_far, n, stored, stop_reason = _optuna(source, n_trials, now_s)
    else:
        so_far, n, stored, stop_reason = _ray(source, n_trials, now_s)
    cfg = ForecastSettings(n_trials=n, **settings)
    done_spent, _ = spent(so_far.records, cfg, elapsed_s=so_far.elapsed_s)
    n_finished = len(so_far.records)
    notes: list[str] = []
    if previous is not None and previous.n_finished == n_finished \
            and previous.settings == cfg and previous.study == so_far.name:
        fc = previous.forecast
        origin = "previous" if previous.forecast_from == "computed" else previous.forecast_from
    elif stored is not None and _agrees(stored[0], done_spent, n_finished):
        fc, origin = stored
    elif source.kind == "ray" and cfg.strategy is None and n_finished < n:
        fc, origin = None, "none"
    else:
        fc, origin = forecast(so_far, settings=cfg), "computed"
    if fc is None:
        notes.append("spent only: a forecast of a Ray experiment needs the remaining trials' "
                     "search (strategy, --strategy)")
    running = len(so_far.running)
    return WatchState(
        source=source, study=so_far.name, n_trials=n, n_finished=n_finished,
        n_running=running, now_s=so_far.now_s, spent=done_spent, forecast=fc,
        forecast_from=origin, budget=budget,
        verdict=None if budget is None else budget.verdict(done_spent, fc),
        stop_reason=stop_reason,
        done=n_finished >= n or (stop_reason is not None and running == 0),
        settings=cfg, notes=tuple(notes))


def _check_priced(budget: Budget, settings: dict[str, Any]) -> None:
    if budget.metric == "co2e_kg" and settings.get("g_co2e_per_kwh") is None:
        raise ConfigError("a budget in kgCO2e needs the grid intensity: give g_co2e_per_kwh "
                          "(--g-co2e-per-kwh)")
    if budget.metric == "usd" and settings.get("usd_per_kwh") is None \
            and settings.get("usd_per_device_hour") is None:
        raise ConfigError("a budget in $ needs a price: give usd_per_kwh (--usd-per-kwh) or "
                          "usd_per_device_hour (--usd-per-device-hour)")


def _needs_n_trials(where: str) -> ConfigError:
    return ConfigError(f"{where} stores no trial count ({N_TRIALS_ATTR}); give n_trials "
                       "(--n-trials), the trials the study runs in all")


def _optuna(source: WatchSource, n_trials: int | None, now_s: float | None
            ) -> tuple[StudySoFar, int, tuple[Forecast, str] | None, str | None]:
    from tunecost.calibrate.importers import open_study

    study = open_study(source.optuna_storage, source.study)
    attrs = study.user_attrs
    n = n_trials if n_trials is not None else attrs.get(N_TRIALS_ATTR)
    if n is None:
        raise _needs_n_trials(f"study {study.study_name!r}")
    so_far = StudySoFar.from_optuna(study, now_s=now_s)
    so_far = _ended(so_far, int(n), now_s)
    stored = _from_attrs(attrs, so_far.name, int(n))
    reason = attrs.get(STOP_ATTR)
    return so_far, int(n), (None if stored is None else (stored, "study user attrs")), \
        None if reason is None else str(reason)


def _ray(source: WatchSource, n_trials: int | None, now_s: float | None
         ) -> tuple[StudySoFar, int, tuple[Forecast, str] | None, str | None]:
    from tunecost.calibrate.importers import from_ray

    root = Path(str(source.ray_results))
    records = from_ray(root, metric=str(source.metric), mode=source.mode)
    path = root / FORECAST_FILE
    data: dict[str, Any] | None = None
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # being rewritten as we read: recompute instead
            data = None
    n = n_trials if n_trials is not None else (data or {}).get("n_trials")
    if n is None:
        raise _needs_n_trials(f"Ray experiment {str(root)!r} ({FORECAST_FILE})")
    live = now_s if now_s is not None else (None if len(records) >= int(n) else time.time())
    so_far = StudySoFar.from_records(records, now_s=live, name=root.name)
    stored = None
    # The Ray ledger's file (tunecost.live.ray_ledger.RayLedger.to_dict) nests the forecast.
    fc_data = (data or {}).get("forecast")
    if isinstance(fc_data, dict):
        try:
            stored = (_from_dict(fc_data), str(path))
        except (KeyError, TypeError, ValueError):
            stored = None
    reason = (data or {}).get("stop_reason")
    return so_far, int(n), stored, None if reason is None else str(reason)


def _ended(so_far: StudySoFar, n_trials: int, now_s: float | None) -> StudySoFar:
    """A study that has run its trials ends at its last trial's end, not at the moment it is
    looked at (its wall clock stops growing)."""
    ends = [float(r.attrs["t_end"]) for r in so_far.records if "t_end" in r.attrs]
    if now_s is not None or so_far.running or len(so_far.records) < n_trials or not ends:
        return so_far
    return dataclasses.replace(so_far, now_s=max(ends))


def _from_attrs(attrs: dict[str, Any], study: str, n_trials: int) -> Forecast | None:
    """The forecast a callback stored as study user attributes (:meth:`Forecast.attrs`)."""
    if f"{ATTR}forecast_n_finished" not in attrs:
        return None
    out: dict[str, dict[str, float]] = {"spent": {}, **{q: {} for q in _QUANTILES},
                                        "completion_s": {}}
    for key, value in attrs.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if key.startswith(f"{ATTR}spent_"):
            out["spent"][key.removeprefix(f"{ATTR}spent_")] = float(value)
        elif key.startswith(f"{ATTR}forecast_completion_"):
            out["completion_s"][key.removeprefix(f"{ATTR}forecast_completion_")] = float(value)
        elif key.startswith(f"{ATTR}forecast_"):
            metric, _, q = key.removeprefix(f"{ATTR}forecast_").rpartition("_")
            if q in _QUANTILES and metric:
                out[q][metric] = float(value)
    return Forecast(study=study, basis=attrs.get(f"{ATTR}forecast_basis", "none"),
                    n_trials=n_trials, n_finished=int(attrs[f"{ATTR}forecast_n_finished"]),
                    n_running=0, now_s=float(attrs.get(f"{ATTR}forecast_time", 0.0)),
                    **out)


def _from_dict(data: dict[str, Any]) -> Forecast:
    """The forecast a Ray Tune callback stored (:meth:`Forecast.to_dict`)."""
    names = {f.name for f in dataclasses.fields(Forecast)}
    fields = {k: v for k, v in data.items() if k in names}
    fields["notes"] = tuple(fields.get("notes", ()))
    return Forecast(**fields)


def _agrees(stored: Forecast, done: dict[str, float], n_finished: int) -> bool:
    """Whether a stored forecast is of these trials, by this accounting: the same finished
    trials, the same spent energy, and every total priced here."""
    if stored.n_finished != n_finished:
        return False
    theirs, ours = stored.spent.get("energy_kwh"), done.get("energy_kwh", 0.0)
    if theirs is None or not math.isclose(theirs, ours, rel_tol=1e-9, abs_tol=1e-15):
        return False
    return stored.basis == "none" or set(done) <= set(stored.p50)
