"""The performance benchmark (`make bench`): seeding, contract query paths, ingestion, refresh, report."""
