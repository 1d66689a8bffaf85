"""`samdkit check-data`: Great Expectations suites over files and databases, and the data-check result."""
