"""ServiceBay benchmarks: each capability measured against a raw-SQL / raw-COPY baseline in the
same run (DESIGN §5). Run with ``python -m bench``; see bench/README.md."""
