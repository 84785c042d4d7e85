"""The `docker-netcontract` executable: answers the docker CLI's `docker-cli-plugin-metadata`, and runs
`docker netcontract ARGS` (which docker starts as `docker-netcontract netcontract ARGS`) as `netcontract ARGS`.
Names, metadata and `netcontract install-docker-plugin`: cli/docker_plugin.py."""

from __future__ import annotations

import json
import sys

import click

from netcontract.cli.docker_plugin import METADATA_ARG, PLUGIN_NAME, metadata
from netcontract.cli.main import main as netcontract


def main(argv: list[str] | None = None) -> None:
    """`docker-netcontract`: answer the docker CLI's metadata request, else run netcontract with the arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [METADATA_ARG]:
        click.echo(json.dumps(metadata()))
        return
    if args[:1] == [PLUGIN_NAME]:  # docker runs `docker-netcontract netcontract ARGS...`
        args = args[1:]
    netcontract.main(args=args, prog_name=f"docker {PLUGIN_NAME}")


if __name__ == "__main__":
    main()
