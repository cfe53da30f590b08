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


def test_a_customer_table_with_yes_no_labels_and_blank_numeric_cells(tmp_path):
    "Issue 20 (1, 4): blanks in a numeric column stay numeric (missing), a Yes/No label maps with `positive`."
    path = tmp_path / "telco.csv"
    path.write_text("customerID,tenure,TotalCharges,Contract,Churn\n"
                    "a-1,1,29.85,Month-to-month,No\n"
                    "a-2,0, ,Two year,No\n"
                    "a-3,34,1889.5,One year,Yes\n")
    mapping = {"customer_id": "customerID", "label": "Churn", "positive": "Yes"}
    with pytest.warns(UserWarning, match=r"telco.csv: column 'TotalCharges': 1 blank cell\(s\) of 3 read as missing"):
        table = ingest_snapshot_table(path, mapping, "2025-01-01")
    assert table.TotalCharges.dtype == "float64" and table.TotalCharges.isna().tolist() == [False, True, False]
    assert table.Contract.dtype == object, "real text stays a category"
    assert table.churned.tolist() == [0, 0, 1]
    with pytest.warns(UserWarning, match=r"read 'Yes' as churned and 'No' as stayed"):  # a known pair (issue 37.2)
        assert ingest_snapshot_table(path, {**mapping, "positive": None}, "2025-01-01").churned.tolist() == [0, 0, 1]
    path.write_text(path.read_text() + "a-4,3,12.0,Two year,Maybe\n")
    with pytest.raises(IngestError, match=r"with positive \['Yes'\] the label needs those and one other value"):
        ingest_snapshot_table(path, mapping, "2025-01-01")


def test_a_whitespace_log_with_integer_dates_and_no_event_type_column(tmp_path):
    "Issue 20 (4): a delimiter option, a date format, a constant event type; integer dates never read as 1970."
    path = tmp_path / "purchases.txt"
    path.write_text("user   day        spend\n7  20250131   12.5\n8\t20250201 3\n")
    mapping = {"customer_id": "user", "ts": "day", "event_type": {"constant": "purchase"}, "measures": {"amount": "spend"}}
    with pytest.raises(IngestError, match=r"column 'day' holds numbers, not dates .* date_format .*'%Y%m%d'"):
        ingest_event_log(path, mapping, read={"delimiter": "whitespace"})
    customers, events = ingest_event_log(path, mapping, read={"delimiter": "whitespace", "date_format": "%Y%m%d"})
    assert events.ts.tolist() == [pd.Timestamp("2025-01-31"), pd.Timestamp("2025-02-01")]
    assert events.event_type.tolist() == ["purchase", "purchase"] and events.amount.tolist() == [12.5, 3.0]
    path.write_text("user;day;spend\n7;20251399;1\n")
    with pytest.raises(IngestError, match=r"column 'day': 1 of 1 rows are missing or not parseable timestamps"):
        ingest_event_log(path, mapping, read={"delimiter": ";", "date_format": "%Y%m%d"})
