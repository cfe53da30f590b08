"""Corrupted inputs through the real pipeline: the contract parser (ingest) or the Great Expectations gate
(validate) stops each class of corruption with a message that names it, downstream stages do not run, and
the last good raw tables (data/raw), features, models and predictions stay byte-identical; the rejected
tables stay in data/ingested to inspect.

Each case works on its own copy of the session's finished pipeline run and feeds it an event log and a
customer table (CSV, through `ingest.source: event_log`) made from that run's clean data, then corrupted.
"""
import json
import shutil

import pandas as pd
import pytest

from churnops.pipeline import override_params
from tests.conftest import dvc_repro, ran

pytestmark = pytest.mark.slow
GOOD_OUTPUTS = ["data/raw", "data/features", "data/predictions", "models"]


def snapshot(root):
    return {p.relative_to(root): p.read_bytes() for d in GOOD_OUTPUTS for p in sorted((root / d).rglob("*"))
            if p.is_file()}


def feed(root, events, customers, warn=None, event_id=None):
    "Write the two tables as CSV and point the ingest stage at them (with the full column mapping)."
    events_path, customers_path = root / "incoming" / "events.csv", root / "incoming" / "customers.csv"
    events_path.parent.mkdir(exist_ok=True)
    if events is None:
        events_path.write_text("")
    else:
        events.to_csv(events_path, index=False)
    customers.to_csv(customers_path, index=False)
    mapping = {"customer_id": "customer_id", "ts": "ts", "event_type": "event_type", "signup_date": "signup_date",
               "measures": {"amount": "amount", "duration_minutes": "duration_minutes"},
               "customer_attributes": ["plan", "region", "acquisition_channel"], "event_id": event_id}
    override_params(root / "params.yaml", {"ingest.source": "event_log", "ingest.event_log": {
        "events_path": str(events_path), "customers_path": str(customers_path), "mapping": mapping},
        **({"validate.warn": warn} if warn else {})})


@pytest.fixture()
def run_copy(pipeline_run, tmp_path):
    "A private copy of the finished pipeline run and its clean raw tables."
    root = tmp_path / "run"
    shutil.copytree(pipeline_run, root, symlinks=True)
    events = pd.read_parquet(root / "data" / "raw" / "events.parquet")
    customers = pd.read_parquet(root / "data" / "raw" / "customers.parquet").drop(columns="monthly_price")
    return root, events, customers


def corrupt_rows(df, column, value, n=3):
    df = df.copy()
    df[column] = df[column].astype(object)
    df.loc[df.index[:n], column] = value
    return df


CASES = {  # name: (corruption of (events, customers), stage that stops it, expected message parts)
    "missing column": (lambda e, c: (e.drop(columns="amount"), c), "ingest",
                       ["events.csv: missing column(s) ['amount'] for the event log"]),
    "wrong dtype": (lambda e, c: (corrupt_rows(e, "duration_minutes", "twelve"), c), "ingest",
                    ["column 'duration_minutes': 3 of", "rows are not numbers, e.g. row 0: 'twelve'"]),
    "empty file": (lambda e, c: (None, c), "ingest", ["events.csv: file is empty"]),
    "duplicated ids": (lambda e, c: (e, pd.concat([c, c.head(2)])), "validate",
                       ["[customers] customers.customer_id.unique (ExpectColumnValuesToBeUnique, column customer_id)",
                        "4 of 1,002 rows fail"]),
    "out-of-range values": (lambda e, c: (corrupt_rows(e, "amount", -50.0), c), "validate",
                            ["[events] events.amount.range (ExpectColumnValuesToBeBetween, column amount)",
                             "3 of", "expected {'min_value': 0, 'max_value': 10000}", "'amount': -50.0"]),
    "future timestamps": (lambda e, c: (corrupt_rows(e, "ts", pd.Timestamp("2099-01-01")), c), "validate",
                          ["events.ts.not_future (ExpectColumnValuesToBeBetween, column ts)", "'ts': '2099-01-01"]),
    "orphan events": (lambda e, c: (corrupt_rows(e, "customer_id", 999999, n=2), c), "validate",
                      ["events.customer_id.known (ExpectColumnValuesToBeInSet, column customer_id)",
                       "2 of", "'customer_id': '999999'"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_corrupted_input_is_stopped_and_good_outputs_survive(run_copy, case):
    root, events, customers = run_copy
    corruption, stage, message_parts = CASES[case]
    before = snapshot(root)
    feed(root, *corruption(events, customers))
    code, output = dvc_repro(root)
    assert code != 0, output[-3000:]
    assert ran(output) == (["ingest"] if stage == "ingest" else ["ingest", "validate"]), output[-3000:]
    for part in message_parts:
        assert part in output, f"{part!r} not in:\n{output[-3000:]}"
    if stage == "validate":
        results = json.loads((root / "reports" / "validation" / "raw_data.json").read_text())
        assert not results["passed"] and results["failed_blocking"] == 1
        assert (root / "reports" / "data_docs" / "raw_data" / "index.html").exists(), "the failed run's Data Docs"
        assert "data/raw keeps the last tables that passed" in output
        rejected = pd.read_parquet(root / "data" / "ingested" / "events.parquet")
        assert len(rejected) == len(corruption(events, customers)[0]), "the rejected log stays to be inspected"
    assert snapshot(root) == before, "a stopped run must leave the last good raw tables, features, models and predictions"


def test_a_delivery_the_feature_gate_stops_is_never_published(run_copy):
    "The raw gate passes, the feature gate fails: data/raw keeps the last good delivery (issue 38.2)."
    root, events, customers = run_copy
    before = snapshot(root)
    feed(root, events.iloc[: len(events) - 500], customers)  # a new delivery the raw gate accepts
    override_params(root / "params.yaml", {"validate.feature_ranges": {"n_*": [0, 1], "*": [-1.0e12, 1.0e12]}})
    code, output = dvc_repro(root)
    assert code != 0 and ran(output) == ["ingest", "validate", "features"], output[-3000:]
    assert json.loads((root / "reports" / "validation" / "raw_data.json").read_text())["passed"]
    assert "the feature table" in output and "labelled.n_" in output, output[-3000:]
    assert snapshot(root) == before, "published only once every gate of the run has passed"


def test_repeated_deliveries_are_dropped_with_a_count_or_by_event_id(run_copy):
    "Identical rows (no event id) are dropped with their count and share; with an event id, repeats of an id are."
    root, events, customers = run_copy
    feed(root, pd.concat([events, events.head(7)]), customers)
    code, output = dvc_repro(root, "features")  # published once the feature gate passes too
    assert code == 0, output[-3000:]
    assert "stage 'ingest' warns: " in output and f"7 of {len(events) + 7:,} rows" in output and "identical to an earlier row" in output, output[-3000:]
    assert len(pd.read_parquet(root / "data" / "raw" / "events.parquet")) == len(events)

    with_ids = events.assign(event_id=[f"e{i}" for i in range(len(events))])
    feed(root, pd.concat([with_ids, with_ids.tail(4)]), customers, event_id="event_id")
    code, output = dvc_repro(root, "features")  # published once the feature gate passes too
    assert code == 0, output[-3000:]
    assert "dropped 4 of" in output and "repeating an event id of column 'event_id'" in output, output[-3000:]
    published = pd.read_parquet(root / "data" / "raw" / "events.parquet")
    assert published.event_id.is_unique and len(published) == len(events)


def test_a_warning_level_expectation_reports_but_does_not_stop(run_copy):
    root, events, customers = run_copy
    feed(root, corrupt_rows(events, "amount", -50.0), customers, warn={"events.amount.range": 0.9999})
    code, output = dvc_repro(root, "validate")
    assert code == 0, output[-3000:]
    results = json.loads((root / "reports" / "validation" / "raw_data.json").read_text())
    assert results["passed"] and results["failed_warnings"] == 1
    (warning,) = [r for r in results["results"] if not r["success"]]
    assert warning["name"] == "events.amount.range" and warning["level"] == "warn" and warning["unexpected_count"] == 3


def test_row_count_collapse_against_the_last_passing_run_blocks(run_copy):
    root, events, customers = run_copy
    feed(root, events.head(len(events) // 3), customers)
    code, output = dvc_repro(root, "validate")
    assert code != 0
    assert "events.table.row_count_change (ExpectTableRowCountToBeBetween)" in output, output[-3000:]
    results = json.loads((root / "reports" / "validation" / "raw_data.json").read_text())
    assert results["baseline_row_counts"]["events"] == len(events), "the baseline stays the last passing run"
