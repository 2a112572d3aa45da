"""Old spellings of options and environment variables: still accepted, each with one line
saying what replaced it. One name per concept: ``--coordinator`` / HPO_ADDRESS for the
coordinator, ``--ray-address`` / RAY_ADDRESS for Ray, ``--db`` / HPO_DB for the database.
(The SDK reads the old HPO_STORAGE itself, see :func:`hpo.client.resolve_address`.)"""

from __future__ import annotations

from collections.abc import Callable, Sequence

# Options before the command that take a value (see the app's callback).
_GLOBAL_OPTIONS_WITH_VALUES = ("--token", "--tls-ca", "--tls-cert", "--tls-key")
_RENAMED_OPTIONS = {"--storage": "--db", "--address": "--coordinator"}
# `hpo sweep --address` meant the Ray cluster.
_RENAMED_SWEEP_OPTIONS = {"--storage": "--db", "--address": "--ray-address"}


def modernize_argv(argv: Sequence[str], note: Callable[[str], None]) -> list[str]:
    """``argv`` with deprecated option names replaced by the current ones."""
    renamed = _RENAMED_SWEEP_OPTIONS if _command(argv) == "sweep" else _RENAMED_OPTIONS
    result: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            return result + list(argv[i:])
        name, eq, value = arg.partition("=")
        if name in renamed:
            note(f"{name} is deprecated: use {renamed[name]}")
            arg = f"{renamed[name]}{eq}{value}"
        result.append(arg)
    return result


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand's name: the first argument that is no option nor an option's value."""
    args = iter(argv)
    for arg in args:
        if arg in _GLOBAL_OPTIONS_WITH_VALUES:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None
