"Ingest edge cases beyond the notebook tests: Parquet inputs, typed columns, the snapshot-table path."
import pandas as pd
import pytest

from churnops.ingest import IngestError, ingest_event_log, ingest_snapshot_table, load_source

MAPPING = {"customer_id": "user", "ts": "at", "event_type": "kind", "measures": {"amount": "value"}}


def test_parquet_event_log_with_customer_table(tmp_path):
    pd.DataFrame({"user": [1, 2], "at": pd.to_datetime(["2025-01-01", "2025-01-02"]), "kind": ["a", "b"],
                  "value": [1.0, None]}).to_parquet(tmp_path / "events.parquet")
    pd.DataFrame({"user": [1, 2], "joined": ["2024-12-01", "2024-12-15"], "tier": ["x", "y"]}).to_csv(
        tmp_path / "customers.csv", index=False)
    customers, events = ingest_event_log(tmp_path / "events.parquet",
                                         {**MAPPING, "customer_id": "user", "signup_date": "joined",
                                          "customer_attributes": ["tier"]}, tmp_path / "customers.csv")
    assert list(events.columns) == ["customer_id", "ts", "event_type", "amount"]
    assert customers.signup_date.tolist() == [pd.Timestamp("2024-12-01"), pd.Timestamp("2024-12-15")]


def test_customer_table_error_names_that_file(tmp_path):
    pd.DataFrame({"user": [1], "at": ["2025-01-01"], "kind": ["a"], "value": [1]}).to_csv(tmp_path / "e.csv", index=False)
    pd.DataFrame({"user": [1]}).to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(IngestError, match=r"c.csv: missing column\(s\) \['tier'\]"):
        ingest_event_log(tmp_path / "e.csv", {**MAPPING, "customer_id": "user", "customer_attributes": ["tier"]},
                         tmp_path / "c.csv")


def test_unsupported_and_unreadable_files(tmp_path):
    (tmp_path / "e.xlsx").write_text("x")
    with pytest.raises(IngestError, match="unsupported file type '.xlsx'"):
        ingest_event_log(tmp_path / "e.xlsx", MAPPING)
    (tmp_path / "e.parquet").write_text("not parquet")
    with pytest.raises(IngestError, match="e.parquet: cannot be read"):
        ingest_event_log(tmp_path / "e.parquet", MAPPING)


def test_snapshot_table_source(tmp_path):
    path = tmp_path / "bank.csv"
    pd.DataFrame({"RowNumber": [1, 2, 3], "CustomerId": [10, 11, 12], "Surname": ["a", "b", "c"],
                  "Age": [30, 40, 50], "Exited": [0, 1, 0]}).to_csv(path, index=False)
    customers, events = load_source({"source": "snapshot_table", "snapshot_table": {
        "path": str(path), "as_of_date": "2025-01-01",
        "mapping": {"customer_id": "CustomerId", "label": "Exited", "exclude": ["RowNumber", "Surname"]}}})
    assert events.empty and list(events.columns) == ["customer_id", "ts", "event_type"]
    assert "Surname" not in customers and "RowNumber" not in customers
    assert customers.churned.tolist() == [0, 1, 0]


def test_snapshot_table_missing_identifier_column_is_named(tmp_path):
    path = tmp_path / "bank.csv"
    pd.DataFrame({"CustomerId": [1], "Exited": [0]}).to_csv(path, index=False)
    with pytest.raises(IngestError, match=r"bank.csv: missing column\(s\) \['Surname'\]"):
        ingest_snapshot_table(path, {"customer_id": "CustomerId", "label": "Exited", "exclude": ["Surname"]}, "2025-01-01")
