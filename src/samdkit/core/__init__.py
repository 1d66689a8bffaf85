"""What every command shares and nothing else of samdkit: errors, the project's paths and settings, findings, files, digests."""
