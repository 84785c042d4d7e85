"""Everything Swarm: --node parsing and the merged State (nodes), Swarm's names on top of the probe
plan (plan), and the manager and node engines (live, the only I/O here)."""
