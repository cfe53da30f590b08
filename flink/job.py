"""Run a Flink SQL script with PyFlink: the Flink job of ChurnOps' features (churnops.flink writes the script).

Runs in the Flink environment (flink/uv.lock, `make flink`: .tools/flink/bin/python), never in churnops' own,
and imports nothing of churnops: PyFlink pins pyarrow < 21. Statements end with `;` at the end of a line. Every
statement but the last is executed in order (tables, views); the last is the job:
- a query (SELECT or WITH): its rows are collected and written as Parquet to --out (local runs, tests);
- anything else (INSERT INTO a Kafka or filesystem sink): submitted, and waited for.

    python flink/job.py SCRIPT.sql [--mode batch|streaming] [--parallelism N] [--out TABLE.parquet]
"""
import argparse
import os
import re
import sys
import time
from pathlib import Path


def statements(script: str) -> list[str]:
    "The script's statements, in order (`--` comment lines dropped)."
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in re.split(r";[ \t]*(?:\n|$)", "\n".join(lines)) if s.strip()]


def root_cause(error: BaseException) -> str:
    "The innermost Java cause of a PyFlink error, without the stack: what a user can act on."
    causes = re.findall(r"(?:Caused by: |^: )([\w.$]+(?:Exception|Error)[^\n]*)", str(error), re.MULTILINE)
    return causes[-1] if causes else str(error).strip().splitlines()[0]


INTEGERS = {"TinyIntType": "int8", "SmallIntType": "int16", "IntType": "int32", "BigIntType": "int64"}


def arrow_schema(table):
    "The query's columns with their Flink types in Arrow: integer columns stay integers where pandas made floats of their nulls."
    import pyarrow as pa
    fields = []
    for name, flink_type in zip(table.get_schema().get_field_names(), table.get_schema().get_field_data_types()):
        kind = type(flink_type).__name__
        arrow = (pa.from_numpy_dtype(INTEGERS[kind]) if kind in INTEGERS else pa.float64() if kind == "DoubleType"
                 else pa.float32() if kind == "FloatType" else pa.bool_() if kind == "BooleanType"
                 else pa.timestamp("us") if kind == "TimestampType" else pa.string())
        fields.append(pa.field(name, arrow))
    return pa.schema(fields)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("script", type=Path)
    parser.add_argument("--mode", choices=["batch", "streaming"], default="batch")
    parser.add_argument("--parallelism", type=int, default=int(os.environ.get("CHURNOPS_FLINK_PARALLELISM", "2")))
    parser.add_argument("--out", type=Path, help="where a final query's rows are written (Parquet)")
    args = parser.parse_args()
    todo = statements(args.script.read_text())
    if not todo:
        parser.error(f"{args.script}: no SQL statements")
    job = todo[-1]
    collect = re.match(r"(SELECT|WITH)\b", job, re.IGNORECASE) is not None
    if collect and args.out is None:
        parser.error("the script ends with a query: give --out for its rows")

    import pyarrow_hotfix  # noqa: F401  (pyarrow < 17 under PyFlink: no unpickling of extension types, CVE-2024-52338)
    from pyflink.table import EnvironmentSettings, TableEnvironment
    settings = EnvironmentSettings.in_batch_mode() if args.mode == "batch" else EnvironmentSettings.in_streaming_mode()
    env = TableEnvironment.create(settings)
    env.get_config().set("parallelism.default", str(args.parallelism))
    # Flink 2.3's batch multiple-input operator returned 6,749 of a query's 13,612 rows at parallelism 2 (the
    # feature query's last joins: snapshots, customers and a filter over both; count(*) said 13,612). Found by the
    # parity tests (tests/streaming/test_flink.py); without the operator every row comes back.
    env.get_config().set("table.optimizer.multiple-input-enabled", "false")
    started = time.perf_counter()
    position = 0
    try:
        for statement in todo[:-1]:
            position += 1
            env.execute_sql(statement)
        position += 1
        if collect:
            import pyarrow as pa
            import pyarrow.parquet as pq
            result = env.sql_query(job)
            frame = result.to_pandas()
            args.out.parent.mkdir(parents=True, exist_ok=True)
            partial = args.out.with_name(f".{args.out.name}.partial")
            pq.write_table(pa.Table.from_pandas(frame, schema=arrow_schema(result), preserve_index=False), partial)
            partial.replace(args.out)  # a failed job leaves the last good table in place
            print(f"flink: {len(frame):,} rows x {frame.shape[1]} columns -> {args.out} "
                  f"in {time.perf_counter() - started:.1f} s ({args.mode}, parallelism {args.parallelism})", flush=True)
        else:
            env.execute_sql(job).wait()
            print(f"flink: job finished in {time.perf_counter() - started:.1f} s", flush=True)
    except Exception as error:  # a Py4J error carries the whole Java stack: say which statement, and why
        print(f"flink: statement {position} of {len(todo)} in {args.script} failed: {root_cause(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
