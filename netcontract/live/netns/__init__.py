"""The in-namespace prober: enter a container's network namespace, drive every probe's sockets on one
selector, read the answers from the wire. Linux, root or CAP_SYS_ADMIN, an engine on this host."""
