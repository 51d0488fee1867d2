"""Service: the talent database, CLI, API and alerts. May import matcher and features."""
