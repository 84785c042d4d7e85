"""Reading compose files as `docker compose` does (its own loader, or netcontract's reader), and `lint`."""
