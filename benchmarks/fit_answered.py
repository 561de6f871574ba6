"""Fit the answered rule (issue 15): a logistic regression over `model.ANSWER_INPUTS`, on the
candidates that `fit_dump.py` saved, and compare it with the best score alone.

    cd benchmarks
    ../.venv/bin/python fit_dump.py --set news --out /tmp/fit/news.pkl
    ../.venv/bin/python fit_dump.py --set squad-tune --limit 4000 --out /tmp/fit/squad-tune.pkl
    ../.venv/bin/python fit_dump.py --set squad-test --limit 4000 --out /tmp/fit/squad-test.pkl
    ../.venv/bin/python fit_answered.py --dumps /tmp/fit

Positives: the answerable questions of the news tune half, and the SQuAD tune half's questions
asked of its own archive; negatives: the news tune half's unanswerable questions, and the SQuAD
test half's questions asked of the tune half's archive. Each of the four groups weighs alike
(news by `--news-weight`). The intercept is then moved so that 95% of the answerable questions
of each tune half are answered. Reported as the harness does (news_quality.summarise,
quality_measure.out_of_archive): the share of unanswerable test questions declined at the
threshold that answers 95% of the tune half's answerable ones.
"""

from __future__ import annotations

import argparse
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from quality_measure import declined_at, threshold_for

from archivist.ranking.features import RANKING_FEATURES
from archivist.ranking.model import FIRST_STAGE_WEIGHTS, answer_inputs

Signal = Callable[[np.ndarray], np.ndarray]


def inputs(record: dict) -> np.ndarray | None:
    """ANSWER_INPUTS of one dumped question, ranked by the shipped combiner (None: no candidate)."""
    features = record["features"]
    if not len(features):
        return None
    scores = features[:, :RANKING_FEATURES] @ np.asarray(FIRST_STAGE_WEIGHTS, np.float32)
    order = list(np.argsort(-scores, kind="stable"))
    return np.array(answer_inputs(features, scores, order))


def group(records: Sequence[dict], split: str, answerable: bool) -> np.ndarray:
    rows = [
        x
        for r in records
        if r["split"] == split and r["answerable"] == answerable and (x := inputs(r)) is not None
    ]
    return np.array(rows)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1e-2
) -> tuple[np.ndarray, float]:
    """Weighted logistic regression (Newton steps on standardized inputs, an L2 penalty),
    returned on the raw scale as (coefficients, intercept)."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    b = np.zeros(z.shape[1])
    penalty = l2 * np.eye(len(b))
    penalty[-1, -1] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-z @ b))
        g = z.T @ (w * (p - y)) / w.sum() + penalty @ b
        h = (z * (w * p * (1 - p))[:, None]).T @ z / w.sum() + penalty
        b -= np.linalg.solve(h, g)
        if np.abs(g).max() < 1e-10:
            break
    coef = b[:-1] / sd
    return coef, float(b[-1] - (mu / sd) @ b[:-1])


def load(folder: Path, name: str) -> list[dict]:
    with open(folder / f"{name}.pkl", "rb") as fh:
        return pickle.load(fh)["records"]


def report(name: str, signal: Signal, sets: dict[str, np.ndarray]) -> None:
    news_t = threshold_for(signal(sets["news_pos"]))
    squad_t = threshold_for(signal(sets["squad_pos"]))
    news_in = 1 - declined_at(signal(sets["news_test_in"]), news_t)
    squad_in = 1 - declined_at(signal(sets["squad_test_in"]), squad_t)
    print(
        f"{name:12s} news test: answered {news_in:.3f}"
        f" declined {declined_at(signal(sets['news_test_out']), news_t):.3f}"
        f" | SQuAD held out: answered {squad_in:.3f}"
        f" declined {declined_at(signal(sets['squad_test_out']), squad_t):.3f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fit_answered", description=__doc__.splitlines()[0])
    parser.add_argument("--dumps", type=Path, required=True, help="fit_dump.py's folder")
    parser.add_argument("--news-weight", type=float, default=0.5)
    args = parser.parse_args(argv)
    news = load(args.dumps, "news")
    squad_tune, squad_test = load(args.dumps, "squad-tune"), load(args.dumps, "squad-test")
    sets = {
        "news_pos": group(news, "tune", True),
        "news_neg": group(news, "tune", False),
        "squad_pos": group(squad_tune, "tune", True),
        "squad_neg": group(squad_tune, "test", False),
        "news_test_in": group(news, "test", True),
        "news_test_out": group(news, "test", False),
        "squad_test_in": group(squad_test, "test", True),
        "squad_test_out": group(squad_test, "tune", False),
    }
    train = ("news_pos", "news_neg", "squad_pos", "squad_neg")
    x = np.vstack([sets[k] for k in train])
    y = np.concatenate([np.full(len(sets[k]), k.endswith("pos"), float) for k in train])
    share = {"news_pos": args.news_weight, "news_neg": args.news_weight}
    w = np.concatenate([np.full(len(sets[k]), share.get(k, 1.0) / len(sets[k])) for k in train])
    coef, intercept = fit_logistic(x, y, w)
    # each tune half answers at least 95% of its answerable questions
    threshold = min(threshold_for(sets[k] @ coef + intercept) for k in ("news_pos", "squad_pos"))
    intercept -= threshold
    print(f"ANSWER_WEIGHTS = {tuple(round(float(c), 4) for c in coef)}")
    print(f"ANSWER_INTERCEPT = {intercept:.4f}")
    report("best score", lambda s: s[:, 0], sets)
    report("logistic", lambda s: s @ coef + intercept, sets)
    for k in ("news_pos", "squad_pos", "news_test_in", "squad_test_in"):
        print(f"answered at 0 ({k}): {np.mean(sets[k] @ coef + intercept >= 0):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
