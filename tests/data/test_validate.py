"The gate's suites on the snapshot-table path (the bank_churn.csv reference data set)."
import pandas as pd
import pytest

from churnops.ingest import empty_event_log, ingest_snapshot_table
from churnops.params import load_params
from churnops.validate import ValidationFailed, apply_levels, gate, raw_data_suites, run_suites


@pytest.fixture(scope="module")
def snapshot_setup(repo):
    params = load_params(repo / "params.yaml")
    cfg = params["ingest"]["snapshot_table"]
    path = (repo / cfg["path"]).resolve()
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    return ingest_snapshot_table(path, cfg["mapping"], cfg["as_of_date"]), params


def validate(table, params, tmp_path):
    suites = raw_data_suites(table, empty_event_log(), params["validate"], params["schema"])
    apply_levels(suites, params["validate"]["warn"])
    return suites, run_suites(suites, tmp_path / "docs")


def test_bank_churn_passes_the_snapshot_suite(snapshot_setup, tmp_path):
    table, params = snapshot_setup
    suites, records = validate(table, params, tmp_path)
    assert list(suites) == ["snapshot"], "a snapshot table has no event log to validate"
    assert gate(records, "bank_churn.csv") == []
    rate = next(r for r in records if r["name"] == "snapshot.churned.rate")
    assert rate["observed"] == pytest.approx(0.2037, abs=1e-4)


def test_implausible_label_rate_and_duplicate_ids_block(snapshot_setup, tmp_path):
    table, params = snapshot_setup
    bad = pd.concat([table.assign(churned=1), table.head(3)])
    _, records = validate(bad, params, tmp_path)
    with pytest.raises(ValidationFailed) as error:
        gate(records, "bank_churn.csv")
    assert "snapshot.churned.rate (ExpectColumnMeanToBeBetween, column churned)" in str(error.value)
    assert "snapshot.customer_id.unique" in str(error.value)
