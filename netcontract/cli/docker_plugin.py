"""`docker netcontract ...`: netcontract as a Docker CLI plugin: its names, metadata and installer.

The docker CLI finds plugins as executables named `docker-<name>` in `$DOCKER_CONFIG/cli-plugins`
(default `~/.docker/cli-plugins`), asks each for its metadata with the argument
`docker-cli-plugin-metadata`, and runs `docker netcontract check ...` as
`docker-netcontract netcontract check ...`. `netcontract install-docker-plugin` writes that executable:
a two-line script that runs `netcontract.cli.plugin` (the entry point) with the Python netcontract is
installed in.

The plugin talks to the engine the environment names (DOCKER_HOST, DOCKER_TLS_VERIFY,
DOCKER_CERT_PATH), as `netcontract` does; the docker CLI's own `--context`/`--host` flags before
`netcontract` are not passed to plugins by every docker version, so set DOCKER_HOST for another engine.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click

from netcontract import __version__

PLUGIN_NAME = "netcontract"
EXECUTABLE = f"docker-{PLUGIN_NAME}"
METADATA_ARG = "docker-cli-plugin-metadata"


def metadata() -> dict[str, str]:
    """What `docker-netcontract docker-cli-plugin-metadata` prints (docker's plugin protocol, schema 0.1.0)."""
    return {
        "SchemaVersion": "0.1.0",
        "Vendor": "netcontract",
        "Version": __version__,
        "ShortDescription": "Check a live Docker deployment against a network contract",
    }


def plugin_dir(environ: dict[str, str] | None = None) -> Path:
    """Where the docker CLI looks for plugins of this user: $DOCKER_CONFIG/cli-plugins, else ~/.docker/cli-plugins."""
    env = os.environ if environ is None else environ
    config = env.get("DOCKER_CONFIG") or str(Path(env.get("HOME") or Path.home()) / ".docker")
    return Path(config) / "cli-plugins"


def launcher(python: str) -> str:
    """The plugin executable: run netcontract.cli.plugin with the interpreter netcontract is installed in."""
    return f'#!/bin/sh\n# written by `netcontract install-docker-plugin`\nexec {shlex.quote(python)} -m netcontract.cli.plugin "$@"\n'


@click.command("install-docker-plugin")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Install into DIR instead of $DOCKER_CONFIG/cli-plugins (default ~/.docker/cli-plugins).",
)
def install_plugin_cmd(directory: str | None) -> None:
    """Install `docker netcontract` (a Docker CLI plugin) for this user.

    \b
    Writes docker-netcontract into $DOCKER_CONFIG/cli-plugins (default
    ~/.docker/cli-plugins); then `docker netcontract check ...` runs this
    netcontract. Run it again after moving netcontract to another Python.
    """
    from netcontract.cli.common import user_errors, write_file

    target = (Path(directory) if directory else plugin_dir()) / EXECUTABLE
    with user_errors():
        written = write_file(
            str(target), launcher(sys.executable), label="docker plugin", make_parents=True
        )
    written.chmod(0o755)
    click.echo(f"installed {written}: try `docker netcontract --version`")
