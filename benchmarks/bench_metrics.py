"""Benchmark: the survival metrics on 10,000 patients, the package's beside lifelines' and
scikit-survival's, with their values (which must be equal), and one bootstrap replicate of each.

Each row times one metric three ways on the same cohort (a synthetic ICB validation cohort and a
model's risk scores): the package's implementation (predictor/metrics.py, what evaluation uses),
and the libraries' functions that define the metric. "replicate" is what a bootstrap pays per
resample once the per-cohort work is done (the package scores a replicate through its patients'
multiplicities; the libraries start from scratch on the resampled rows).

    python benchmarks/bench_metrics.py [--n 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def best(fn, repeats: int) -> tuple[float, object]:
    """Seconds of the fastest of ``repeats`` calls, and the last result."""
    fastest, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="test patients")
    parser.add_argument("--train", type=int, default=700, help="training patients (the censoring distribution)")
    parser.add_argument("--repeats", type=int, default=5, help="calls timed per cell; the fastest is shown")
    args = parser.parse_args()

    from lifelines.utils import concordance_index
    from sksurv.metrics import (
        CensoringDistributionEstimator,
        concordance_index_censored,
        concordance_index_ipcw,
        cumulative_dynamic_auc,
        integrated_brier_score,
    )

    from predictor.metrics import SurvivalMetrics, TrainingReference
    from predictor.metrics.fast import Concordance, brier_scores, integrated_brier
    from predictor.metrics.fast import cumulative_dynamic_auc as td_auc
    from predictor.models.target import make_surv
    from synthetic import generate, load_scenario
    from synthetic.oracle import oracle

    sc = load_scenario("icb_bone_opn")
    train, test = generate(sc, args.train, seed=21), generate(sc, args.n, seed=22)
    y_tr = make_surv(train.observed.pfs_event, train.observed.pfs_months)
    y = make_surv(test.observed.pfs_event, test.observed.pfs_months)
    t, e = y["time"], y["event"]
    risk = oracle(test, [12.0], sc)["risk"] + np.random.default_rng(0).normal(0, 0.3, args.n)  # a model's scores
    keep = t < y_tr["time"].max()
    y_in, t_in, e_in, r_in = y[keep], t[keep], e[keep], risk[keep]
    tau = min(y_tr["time"][y_tr["event"]].max(), t_in.max())
    horizons = np.array([6.0, 12.0, 24.0])
    grid = np.linspace(max(np.quantile(t_in, 0.05), 0.5), min(np.quantile(t_in, 0.8), tau * 0.999), 40)
    surv = np.exp(-np.log(2) * np.outer(np.exp(risk), grid) / 8.0)
    s_in = surv[keep]
    cens = CensoringDistributionEstimator().fit(y_tr)
    ipcw = cens.predict_ipcw(y_in)

    rows = []
    rows.append(
        (
            "Harrell's C",
            "lifelines concordance_index",
            lambda: concordance_index(t, -risk, e),
            "sksurv concordance_index_censored",
            lambda: concordance_index_censored(e, t, risk, tied_tol=0.0)[0],
            lambda: Concordance(t, e, risk).harrell(),
        )
    )
    rows.append(
        (
            "Uno's C",
            None,
            None,
            "sksurv concordance_index_ipcw",
            lambda: concordance_index_ipcw(y_tr, y_in, r_in, tau=tau)[0],
            lambda: Concordance(t_in, e_in, r_in, tied_tol=1e-8).uno(np.where(t_in < tau, ipcw, 0.0)),
        )
    )
    rows.append(
        (
            "td-AUC (6, 12, 24 months)",
            None,
            None,
            "sksurv cumulative_dynamic_auc",
            lambda: cumulative_dynamic_auc(y_tr, y_in, r_in, horizons)[0],
            lambda: td_auc(t_in, e_in, r_in, CensoringDistributionEstimator().fit(y_tr).predict_ipcw(y_in), horizons),
        )
    )
    rows.append(
        (
            "integrated Brier (40 times)",
            None,
            None,
            "sksurv integrated_brier_score",
            lambda: integrated_brier_score(y_tr, y_in, s_in, grid),
            lambda: integrated_brier(
                brier_scores(t_in, e_in, s_in, cens.predict_proba(t_in), cens.predict_proba(grid), grid), grid
            ),
        )
    )

    print(
        f"{args.n:,d} test patients ({int(e.sum()):,d} events), censoring distribution from {args.train:,d}; "
        f"fastest of {args.repeats} calls\n"
    )
    print(f"{'metric':28s} {'package ms':>10s} {'lifelines ms':>12s} {'sksurv ms':>10s}   value (package; libraries)")
    for name, _ll_name, ll, _sk_name, sk, ours in rows:
        t_ours, v_ours = best(ours, args.repeats)
        t_ll, v_ll = best(ll, args.repeats) if ll else (np.nan, None)
        t_sk, v_sk = best(sk, max(1, args.repeats // 2))
        values = "; ".join(f"{np.atleast_1d(v)[0]:.12f}" for v in (v_ll, v_sk) if v is not None)
        equal = all(
            np.allclose(np.atleast_1d(v), np.atleast_1d(v_ours), rtol=1e-12, atol=0)
            for v in (v_ll, v_sk)
            if v is not None
        )
        print(
            f"{name:28s} {t_ours * 1e3:10.2f} {t_ll * 1e3:12.2f} {t_sk * 1e3:10.2f}   "
            f"{np.atleast_1d(v_ours)[0]:.12f}; {values}  ({'equal' if equal else 'DIFFERENT'} to 1e-12)"
        )

    # One bootstrap replicate of every survival metric, as evaluation scores it.
    survival = lambda times: np.exp(-np.log(2) * np.outer(np.exp(risk), np.asarray(times)) / 8.0)
    metrics = SurvivalMetrics(TrainingReference.from_target(y_tr), y, risk, survival, horizons)
    replicate = np.random.default_rng(1).integers(0, args.n, args.n)
    t_rep, _ = best(lambda: metrics(replicate), args.repeats)
    t_setup, _ = best(
        lambda: SurvivalMetrics(TrainingReference.from_target(y_tr), y, risk, survival, horizons),
        max(1, args.repeats // 2),
    )

    def libraries():
        yr = y[replicate]
        concordance_index(yr["time"], -risk[replicate], yr["event"])
        k = yr["time"] < y_tr["time"].max()
        concordance_index_ipcw(y_tr, yr[k], risk[replicate][k], tau=tau)
        cumulative_dynamic_auc(y_tr, yr[k], risk[replicate][k], horizons)
        integrated_brier_score(y_tr, yr[k], survival(grid)[replicate][k], grid)

    t_lib, _ = best(libraries, max(1, args.repeats // 2))
    print(
        f"\none bootstrap replicate, every survival metric: package {t_rep * 1e3:.1f} ms "
        f"(after {t_setup * 1e3:.1f} ms once per model and cohort); "
        f"lifelines + sksurv {t_lib * 1e3:.1f} ms ({t_lib / t_rep:.0f}x)"
    )


if __name__ == "__main__":
    main()
