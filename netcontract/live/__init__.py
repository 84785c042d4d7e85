"""The running stack: the only package that talks to a Docker engine or enters network namespaces."""
