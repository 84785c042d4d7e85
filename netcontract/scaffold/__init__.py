"""`scaffold`: planning the network edits a contract asks of a compose file, splicing them in, writing it safely."""
