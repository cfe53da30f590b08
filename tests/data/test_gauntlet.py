"""A property-based gauntlet of the tables and logs users bring (issue 37): each generated case runs ingest ->
features -> train -> the model artefact -> the promotion gate with a small budget, and must end either with a
champion or with a sentence that says why (the gate's reason, or an input error naming the file and what to
change): never an internal error, never a silent drop. `make test` runs a handful of examples; `make gauntlet`
runs many (GAUNTLET_EXAMPLES)."""
import os
import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnops.contract import LABEL_COLUMN
from churnops.evaluate import ranking_metrics, single_feature_baseline
from churnops.features import build_feature_table, split_labelled
from churnops.ingest import IngestError, ingest_event_log, ingest_snapshot_table
from churnops.model import Predictor, load_model, save_model
from churnops.params import load_params
from churnops.registry import promotion_decision
from churnops.train import fit_candidates, model_columns, single_feature_of, time_split
from tests.conftest import REPO

EXAMPLES = int(os.environ.get("GAUNTLET_EXAMPLES", "6"))
GAUNTLET = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])
PARAMS = load_params(REPO / "params.yaml")
TRAIN = {**PARAMS["train"], "candidates": {"logistic_regression": {"C": 0.1},
                                           "hist_gradient_boosting": {"max_iter": 20, "learning_rate": 0.1}}}
VOCABULARIES = [("Yes", "No"), ("True", "False"), ("1", "0"), ("churned", "active"),
                ("Attrited Customer", "Existing Customer"), ("left", "stayed"), ("Y", "N")]
COLUMN_KINDS = ["numbers", "numbers_with_blanks", "integers", "categories", "many_categories", "booleans",
                "constant", "all_missing", "dates_as_text"]


def column(kind: str, n: int, rng: np.random.Generator, signal: np.ndarray) -> list:
    "One column of a customer table, as text cells a CSV would hold ('' is a blank cell)."
    if kind == "numbers":
        return list(np.round(rng.normal(50, 15, n) + 10 * signal, 2))
    if kind == "numbers_with_blanks":
        return ["" if rng.random() < 0.05 else round(v, 2) for v in rng.gamma(2, 500, n) + 300 * signal]
    if kind == "integers":
        return list(rng.integers(0, 72, n) + (12 * signal).astype(int))
    if kind == "categories":
        return list(np.where(signal > 0.5, "Month-to-month", rng.choice(["One year", "Two year"], n)))
    if kind == "many_categories":
        return [f"city-{i}" for i in rng.integers(0, max(n // 3, 2), n)]
    if kind == "booleans":
        return list(np.where(rng.random(n) < 0.3, "True", "False"))
    if kind == "constant":
        return [7] * n
    if kind == "all_missing":
        return [""] * n
    if kind == "dates_as_text":
        return list((pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")).strftime("%Y-%m-%d"))
    raise ValueError(kind)


@st.composite
def customer_tables(draw):
    "A one-row-per-customer table with a label in some vocabulary, at some rate, with columns of mixed kinds."
    n = draw(st.sampled_from([200, 400, 1000]))
    rate = draw(st.sampled_from([0.03, 0.2, 0.5, 0.8]))
    kinds = draw(st.lists(st.sampled_from(COLUMN_KINDS), min_size=1, max_size=6))
    churned, stayed = draw(st.sampled_from(VOCABULARIES))
    text_ids = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return {"n": n, "rate": rate, "kinds": kinds, "vocabulary": (churned, stayed), "text_ids": text_ids, "seed": seed}


@st.composite
def event_logs(draw):
    "A log of one or several event types, its times as ISO text, dates only, YYYYMMDD integers or epoch seconds."
    return {"customers": draw(st.sampled_from([150, 400])), "days": draw(st.sampled_from([120, 200])),
            "types": draw(st.sampled_from([["purchase"], ["login", "payment", "support"]])),
            "time_format": draw(st.sampled_from(["iso", "date", "yyyymmdd", "epoch"])),
            "start": draw(st.sampled_from(["1997-01-01", "2024-01-01"])), "text_ids": draw(st.booleans()),
            "repeated_rows": draw(st.integers(0, 5)), "seed": draw(st.integers(0, 2**16))}


def write_customer_table(case: dict, path) -> None:
    rng = np.random.default_rng(case["seed"])
    n = case["n"]
    signal = rng.random(n)
    churn = rng.random(n) < np.clip(case["rate"] * (0.4 + 1.2 * signal), 0, 1)
    churn[:2], churn[2:4] = True, False  # both classes, however small the rate
    table = pd.DataFrame({"id": [f"C{i:05d}" for i in range(n)] if case["text_ids"] else np.arange(10_000, 10_000 + n)})
    for i, kind in enumerate(case["kinds"]):
        table[f"{kind}_{i}"] = column(kind, n, rng, signal)
    churned, stayed = case["vocabulary"]
    table["Churn"] = np.where(churn, churned, stayed)
    table.to_csv(path, index=False)


def write_event_log(case: dict, path) -> dict:
    "The log as a CSV; returns the read block that says how to parse its times."
    rng = np.random.default_rng(case["seed"])
    customers = np.arange(case["customers"])
    rate = rng.gamma(2, 0.2, len(customers))           # events per day
    lifetime = rng.integers(20, case["days"] + 60, len(customers))
    rows = []
    for customer in customers:
        days = np.sort(rng.integers(0, min(lifetime[customer], case["days"]), rng.poisson(rate[customer] * lifetime[customer]) + 1))
        for day in days:
            rows.append((customer, day, rng.choice(case["types"]), round(float(rng.gamma(2, 20)), 2)))
    log = pd.DataFrame(rows, columns=["user", "day", "kind", "amount"])
    times = pd.Timestamp(case["start"]) + pd.to_timedelta(log.day, unit="D")
    if case["time_format"] != "date":
        times = times + pd.to_timedelta(rng.integers(0, 86_400, len(log)), unit="s")
    log["when"] = {"iso": times.dt.strftime("%Y-%m-%dT%H:%M:%S"), "date": times.dt.strftime("%Y-%m-%d"),
                   "yyyymmdd": times.dt.strftime("%Y%m%d").astype(int),
                   "epoch": (times - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)}[case["time_format"]]
    if case["text_ids"]:
        log["user"] = "u" + log.user.astype(str)
    log = pd.concat([log, log.sample(case["repeated_rows"], random_state=0)]) if case["repeated_rows"] else log
    log.drop(columns="day").to_csv(path, index=False)
    return {"date_format": {"yyyymmdd": "%Y%m%d", "epoch": "unix_seconds"}.get(case["time_format"])}


def train_and_gate(labelled: pd.DataFrame, folder) -> tuple[bool, str]:
    "Train with a small budget, save and load the model artefact, and let the gate decide (no champion yet)."
    train, test = time_split(labelled, TRAIN["test_snapshots"], TRAIN["gap_days"], TRAIN["seed"])
    model, leaderboard, _ = fit_candidates(train, TRAIN)
    assert leaderboard.selected.sum() == 1
    save_model(model, folder / "model")
    predictor = Predictor(load_model(folder / "model"), probe=test)
    probability = predictor.predict(test)
    assert np.isfinite(probability).all() and ((probability >= 0) & (probability <= 1)).all()
    metrics = {**ranking_metrics(test[LABEL_COLUMN], probability), "base_rate": float(test[LABEL_COLUMN].mean())}
    _, baseline = single_feature_baseline(train, test, model_columns(train)[0])
    selected = leaderboard.loc[leaderboard.selected, "candidate"].iloc[0]
    return promotion_decision(metrics, None, baseline, [], PARAMS["register"]["gate"],
                              single_feature=single_feature_of(selected))


def finished_or_explained(run, path, case: dict) -> None:
    "Run a case; an input error must name the file. How it ended is printed (`pytest -s`, `make gauntlet`)."
    try:
        promoted, reason = run()
    except IngestError as error:
        assert str(path) in str(error), f"an input error that does not name the file: {error}"
        print(f"gauntlet {case}: input refused: {error}")
        return
    assert promoted or reason.startswith("rejected: "), reason
    print(f"gauntlet {case}: {'champion' if promoted else 'no champion'}: {reason}")


@GAUNTLET
@given(case=customer_tables())
def test_every_customer_table_ends_with_a_champion_or_a_reason(case, tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    path = folder / "customers.csv"
    write_customer_table(case, path)

    def run():
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            table = ingest_snapshot_table(path, {"customer_id": "id", "label": "Churn"}, "2025-01-01")
        churned_share = table[LABEL_COLUMN].mean()
        if churned_share > 0.5:
            assert any("more than half" in str(w.message) for w in said), "a majority label rate is said loudly"
        labelled, scoring = split_labelled(build_feature_table(table, None, PARAMS["features"], PARAMS["schema"]))
        assert len(scoring) == case["n"], "every customer is scored"
        return train_and_gate(labelled, folder)

    finished_or_explained(run, path, case)


@GAUNTLET
@given(case=event_logs())
def test_every_event_log_ends_with_a_champion_or_a_reason(case, tmp_path_factory):
    folder = tmp_path_factory.mktemp("log")
    path = folder / "events.csv"
    read = write_event_log(case, path)
    mapping = {"customer_id": "user", "ts": "when", "event_type": "kind", "measures": {"amount": "amount"}}

    def run():
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            customers, events = ingest_event_log(path, mapping, read=read)
        if case["repeated_rows"]:
            assert any("identical to an earlier row" in str(w.message) for w in said), "never a silent drop"
        schema = {**PARAMS["schema"], "measures": ["amount"]}
        labelled, _ = split_labelled(build_feature_table(customers, events, PARAMS["features"], schema))
        return train_and_gate(labelled, folder)

    finished_or_explained(run, path, case)
