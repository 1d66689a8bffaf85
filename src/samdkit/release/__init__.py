"""`samdkit sign` / `verify`: PAdES signatures, the release manifest, the model signature and the auditor's check."""
