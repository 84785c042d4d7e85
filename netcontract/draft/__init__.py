"""`init`: a draft contract from a State, read from compose files or from the engine."""
