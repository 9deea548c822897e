"""The database of runs: tables, engine, queries and migrations."""
