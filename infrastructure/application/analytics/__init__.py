"""The analytics: the columnar engine (Arrow and DuckDB), execution quality, the Parquet lake and
its P&L table, and the exports of a table to a file."""
