"""Baseline of the data-check figure: GX 1.x validating a suite JSON on a CSV directly, no samdkit.

Usage: python gx_direct.py DATA.csv SUITE.json  (same result format as samdkit: SUMMARY, 10 examples).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path


def main(data: str, suite_path: str) -> int:
    import great_expectations as gx
    import pandas as pd
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
    frame = pd.read_csv(data)
    raw = json.loads(Path(suite_path).read_text(encoding="utf-8"))
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    suite = gx.ExpectationSuite(
        name=raw["name"],
        expectations=[ExpectationConfiguration(**e).to_domain_obj() for e in raw["expectations"]],
    )
    batch = (
        context.data_sources.add_pandas("direct")
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    result = batch.validate(
        suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10}
    )
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
