"""The Docker Engine edge: the read-only API client (standard library) and the SDK adapter for
exec, sidecars and images. The only package that speaks the Engine API."""
