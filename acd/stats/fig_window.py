"""Figures of one queue (or the whole centre) over one span of time, from raw counts. Pure.

Definitions: METRICS.md. How the per-second wait histograms (raw.py) are read:
- "within T" means wait <= T, i.e. histogram bucket <= T (bucket = ceil(wait), raw.wait_bucket);
- the last bucket (raw.WAIT_CAP_S) also holds every longer wait, so it is never "within" any
  threshold: a wait in (WAIT_CAP_S - 1, WAIT_CAP_S] is the one case counted as late;
- a short abandon is an abandon within `short_abandon_s`: wait <= short_abandon_s, bucket <=
  short_abandon_s, with the same rule as the thresholds (so 0 keeps only zero-second waits);
- every ratio is None (JSON null) when its denominator is 0: nothing to count yet.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence

from acd.config import SlaConfig, SlaFormula
from acd.core.steps import QUEUES_PER_STEP, chunks, run_steps
from acd.stats.raw import WAIT_CAP_S, QueueCounts, SurveyCounts
from acd.stats.schema import (
    CallbackFigures,
    EwtAccuracy,
    ServiceLevel,
    SurveyFigures,
    WindowFigures,
)

DEFAULT_FORMULA: SlaFormula = "short_abandons_excluded"


def within(waits: Mapping[int, int], threshold_s: int) -> int:
    """Calls of a wait histogram whose wait was <= threshold_s (the capped bucket excluded)."""
    return sum(n for bucket, n in waits.items() if bucket <= threshold_s and bucket < WAIT_CAP_S)


def ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def sl_numerator(counts: QueueCounts, formula: SlaFormula, threshold_s: int) -> int:
    """The numerator of a METRICS.md service level formula at one threshold."""
    num = within(counts.answered_waits, threshold_s)
    if formula == "abandoned_within_t_positive":
        num += within(counts.abandoned_waits, threshold_s)
    return num


def sl_denominator(counts: QueueCounts, formula: SlaFormula, short_abandoned: int) -> int:
    """The denominator of a METRICS.md service level formula."""
    if formula == "ignore_abandoned":
        return counts.answered
    if formula == "abandoned_count_against":
        return counts.answered + counts.abandoned
    if formula == "short_abandons_excluded":
        return counts.answered + counts.abandoned - short_abandoned
    if formula == "abandoned_within_t_positive":
        return counts.offered
    raise ValueError(f"unknown service level formula {formula!r}")


def service_level_value(counts: QueueCounts, formula: SlaFormula, threshold_s: int,
                        short_abandon_s: int) -> float | None:
    """One service level figure: share 0..1 of the formula's calls, None with nothing to count."""
    short = within(counts.abandoned_waits, short_abandon_s)
    return ratio(sl_numerator(counts, formula, threshold_s),
                 sl_denominator(counts, formula, short))


def _figures(counts: QueueCounts, answered_within: int, short_abandoned: int,
             sl: ServiceLevel) -> WindowFigures:
    return WindowFigures(
        offered=counts.offered, answered=counts.answered, answered_within=answered_within,
        abandoned=counts.abandoned, short_abandoned=short_abandoned, timed_out=counts.timed_out,
        overflowed=counts.overflowed, voicemail=counts.voicemail, closed=counts.closed,
        service_level=sl,
        asa_s=ratio(counts.wait_sum_s, counts.answered),
        abandon_rate=ratio(counts.abandoned, counts.offered),
        aht_s=ratio(counts.talk_sum_s + counts.wrapup_sum_s, counts.handled),
        handled=counts.handled, repeats=counts.repeats,
        repeat_rate=_capped(ratio(counts.repeats, counts.answered)),
        fcr_proxy=_fcr(ratio(counts.repeats, counts.answered)),
        ewt_accuracy=ewt_accuracy(counts), survey=survey_figures(counts.survey),
        callbacks=CallbackFigures(requested=counts.callback_requested,
                                  answered=counts.callback_answered,
                                  failed=counts.callback_failed),
        transferred=counts.transferred, transfers_in=counts.transfers_in,
        transfer_rate=_capped(ratio(counts.transferred,
                                    counts.answered + counts.transfers_in_answered)))


def _capped(share: float | None) -> float | None:
    # Repeats are counted when the repeat arrives, answers when they happen: over a short
    # window the two may not line up exactly, so the share is kept within 0..1.
    return None if share is None else min(1.0, share)


def _fcr(repeat_share: float | None) -> float | None:
    return None if repeat_share is None else 1.0 - min(1.0, repeat_share)


def survey_figures(counts: SurveyCounts) -> SurveyFigures:
    nps = ratio(100.0 * (counts.nps_promoters - counts.nps_detractors), counts.nps_n)
    return SurveyFigures(csat_answers=counts.csat_n,
                         csat_index=ratio(counts.csat_points, counts.csat_n),
                         nps_answers=counts.nps_n, nps=nps, promoters=counts.nps_promoters,
                         detractors=counts.nps_detractors)


def ewt_accuracy(counts: QueueCounts) -> EwtAccuracy:
    n = counts.ewt_n
    return EwtAccuracy(answered=n, mean_abs_error_s=ratio(counts.ewt_abs_err_s, n),
                       mean_error_s=ratio(counts.ewt_err_s, n),
                       within_30s=ratio(counts.ewt_w30, n), within_25pct=ratio(counts.ewt_w25, n))


def window_figures(counts: QueueCounts, sla: SlaConfig, short_abandon_s: int) -> WindowFigures:
    """Every figure of one queue over one window, with the queue's service level formula at
    its main threshold and at every configured threshold (`by_threshold`, keyed "20")."""
    short = within(counts.abandoned_waits, short_abandon_s)
    den = sl_denominator(counts, sla.formula, short)
    by_threshold = {str(t): ratio(sl_numerator(counts, sla.formula, t), den)
                    for t in sla.thresholds_s}
    sl = ServiceLevel(value=ratio(sl_numerator(counts, sla.formula, sla.threshold_s), den),
                      threshold_s=sla.threshold_s, target=sla.target_pct / 100,
                      formula=sla.formula, by_threshold=by_threshold)
    return _figures(counts, within(counts.answered_waits, sla.threshold_s), short, sl)


def common_formula(slas: Sequence[SlaConfig]) -> SlaFormula:
    """The formula every queue uses, else the default one."""
    formulas = {s.formula for s in slas}
    return formulas.pop() if len(formulas) == 1 else DEFAULT_FORMULA


def common_threshold(slas: Sequence[SlaConfig]) -> int:
    """The main threshold every queue uses, else 0: "each queue's own threshold"."""
    thresholds = {s.threshold_s for s in slas}
    return thresholds.pop() if len(thresholds) == 1 else 0


def blended_target_pct(slas: Sequence[SlaConfig], weights: Sequence[float]) -> float:
    """The queues' common target, else their mean weighted by `weights` (e.g. offered calls),
    else (all weights 0) their plain mean."""
    targets = [s.target_pct for s in slas]
    if len(set(targets)) == 1:
        return targets[0]
    total = sum(weights)
    if total > 0:
        return sum(t * w for t, w in zip(targets, weights, strict=True)) / total
    return sum(targets) / len(targets) if targets else 0.0


def centre_window_figures(parts: Sequence[tuple[QueueCounts, SlaConfig]],
                          short_abandon_s: int) -> WindowFigures:
    """The whole centre over one window: every count added up, and the service level counting
    each call against its own queue's main threshold (answered_within is the sum of the queues'
    answered_within). The formula is the queues' common one, else short_abandons_excluded;
    threshold_s is the common threshold, else 0; the target is the common one, else the
    offered-weighted mean. `by_threshold` stays empty: thresholds differ between queues."""
    return run_steps(centre_window_steps(parts, short_abandon_s))


def centre_window_steps(parts: Sequence[tuple[QueueCounts, SlaConfig]], short_abandon_s: int
                        ) -> Generator[None, None, WindowFigures]:
    """centre_window_figures in steps of QUEUES_PER_STEP queues (adding up a thousand queues'
    histograms was one step of 7-18 ms)."""
    slas = [sla for _, sla in parts]
    formula = common_formula(slas)
    total = QueueCounts()
    answered_within = num = 0
    for part in chunks(parts, QUEUES_PER_STEP):
        for c, s in part:
            total.add(c)
            answered_within += within(c.answered_waits, s.threshold_s)
            num += sl_numerator(c, formula, s.threshold_s)
        yield
    # Each call once (issue 9): a conversation that ended in a transfer goes on elsewhere, so
    # the centre's handled calls are the last conversations only (AHT: all the effort of a
    # call over one call). offered / answered / abandoned count first offers only already.
    total.handled -= total.transferred
    short = within(total.abandoned_waits, short_abandon_s)
    target = blended_target_pct(slas, [c.offered for c, _ in parts])
    sl = ServiceLevel(value=ratio(num, sl_denominator(total, formula, short)),
                      threshold_s=common_threshold(slas), target=target / 100, formula=formula)
    return _figures(total, answered_within, short, sl)
