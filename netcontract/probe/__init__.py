"""What to probe and what it means: the plan, the probes' wire formats and output parsers, the judge (pure)."""
