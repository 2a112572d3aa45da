"""The embedded default: a coordinator started in this process on a loopback port.

Used when neither ``address=`` nor ``HPO_ADDRESS`` names a coordinator. The SDK talks to it
over gRPC like to any other, so there is one code path.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import os
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from hpo._defaults import DEFAULT_STORAGE_URL

if TYPE_CHECKING:
    from hpo.server import Coordinator

ADDRESS_ENV = "HPO_ADDRESS"
DB_ENV = "HPO_DB"
#: The old name of HPO_DB, still read (with a warning saying what replaced it).
DEPRECATED_DB_ENV = "HPO_STORAGE"

_logger = logging.getLogger("hpo")
_coordinators: dict[str, Coordinator] = {}
_warned: list[str] = []
_lock = threading.Lock()


def resolve_address(address: str | None, storage: str | None) -> str:
    """Where the SDK should connect: ``address``, else an embedded coordinator on ``storage``,
    else ``$HPO_ADDRESS``, else an embedded coordinator on ``$HPO_DB`` (else the default
    database, a SQLite file ``hpo.db`` in the working directory)."""
    if address:
        if storage:
            raise ValueError(
                "pass address= (a running coordinator) or storage= (embedded), not both"
            )
        return address
    embedded = embedded_storage(storage)
    return os.environ[ADDRESS_ENV] if embedded is None else embedded_address(embedded)


def embedded_storage(storage: str | None) -> str | None:
    """The database an embedded coordinator opens when no address is given: ``storage``,
    else none when ``$HPO_ADDRESS`` names a running coordinator, else ``$HPO_DB`` (else the
    default database)."""
    if not storage and os.environ.get(ADDRESS_ENV):
        return None
    return storage or _db_from_environment() or DEFAULT_STORAGE_URL


def _db_from_environment() -> str | None:
    if os.environ.get(DB_ENV):
        return os.environ[DB_ENV]
    old = os.environ.get(DEPRECATED_DB_ENV)
    if old and not _warned:
        _warned.append(DEPRECATED_DB_ENV)  # once per process
        _logger.warning("%s is deprecated: use %s", DEPRECATED_DB_ENV, DB_ENV)
    return old


def budget_spent_in_embedded(storage: str | None, study: str) -> bool:
    """Whether ``study`` has finished every trial of its budget (complete or pruned) in the
    database an embedded coordinator would open (:func:`embedded_storage`). One read of that
    database, and no thread started: a sweep asks before it starts Ray, which must fork
    before any thread runs.

    False when ``$HPO_ADDRESS`` names a running coordinator, when there is no such database
    or study yet, or when the database cannot be read as it is: the caller then takes its
    usual path, which says what is wrong."""
    embedded = embedded_storage(storage)
    if embedded is None or _no_such_sqlite_file(embedded):
        return False

    from hpo.service._config import CONFIG_ATTR, StudyConfig
    from hpo.storage._engine import create_engine, normalize_url
    from hpo.storage._sql import RawSql
    from hpo.storage._studies import StudyLog

    url = normalize_url(embedded)
    engine = create_engine(url)  # a URL that cannot name a database: one line, before Ray
    try:
        parsed = engine.url
        if parsed.get_backend_name() == "sqlite" and not os.path.isfile(parsed.database or ""):
            return False
        row = StudyLog(RawSql(engine)).find(study)
        config = StudyConfig.from_json(row.system_attrs.get(CONFIG_ATTR)) if row else None
    except Exception as e:  # the usual path meets it again and reports it
        _logger.debug("reading study %r before the sweep: %s", study, e)
        return False
    finally:
        engine.dispose()
    if row is None or config is None or not config.trial_budget:
        return False
    done = row.trial_counts.get("COMPLETE", 0) + row.trial_counts.get("PRUNED", 0)
    return done >= config.trial_budget


def _no_such_sqlite_file(url: str) -> bool:
    """Whether ``url`` (a bare path or a ``sqlite://`` URL) names a SQLite file that does not
    exist: known without importing the storage layer, a third of a second before Ray starts
    on a first sweep. The path is read as SQLAlchemy reads it (percent-decoded, up to any
    ``?``). False whenever unsure (the full check then decides)."""
    if "://" not in url:
        rest = url
    elif url.startswith(("sqlite:///", "sqlite+pysqlite:///")):
        rest = url.split(":///", 1)[1]
    else:
        return False
    path = urllib.parse.unquote(rest.split("?", 1)[0])
    return (
        path not in ("", ":memory:") and not path.startswith("file:") and not os.path.lexists(path)
    )


#: How much nicer than its process the thread that imports ahead runs while the machine has
#: cores to spare (nice values end at 19).
_IMPORT_NICENESS = 10
_NICEST = 19


@contextlib.contextmanager
def preparing_embedded(
    address: str | None, storage: str | None, also: Sequence[str | Callable[[], object]] = ()
) -> Iterator[None]:
    """While the body runs (a local Ray starting, which mostly waits), import in a thread the
    modules of the embedded coordinator :func:`resolve_address` will start for ``address``
    and ``storage`` (none when it names a running one), and the modules ``also`` names (or
    calls: a callable there imports what it knows to import): a few tenths of a second the
    steps after the body then save. The thread runs at a lower CPU priority than the body's
    processes when the machine has cores to spare.

    The thread only imports (a few modules start native threads of their own as they load:
    NumPy's BLAS, Arrow's allocator): it opens no socket or channel and takes no lock of
    hpo's, so the processes the body forks meanwhile inherit nothing a coordinator holds
    (Ray's children run only code imported before, then exec). A failed import is left to
    the code that needs the module, which meets it again and says what is wrong."""
    embedded = not address and embedded_storage(storage) is not None
    modules = [m for m in (*(["hpo.server"] if embedded else []), *also) if m not in sys.modules]
    if not modules:
        yield
        return
    thread = threading.Thread(target=_import_quietly, args=(modules,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def _import_quietly(modules: Sequence[str | Callable[[], object]]) -> None:
    # NumPy starts its BLAS threads as it is imported, and a thread inherits the priority of
    # the thread that starts it: NumPy (which Optuna, and so every coordinator, imports) is
    # imported before the priority drops.
    _import_or_leave("numpy")
    _yield_the_cpu()
    for module in modules:
        _import_or_leave(module)


def _import_or_leave(module: str | Callable[[], object]) -> None:
    try:
        module() if callable(module) else importlib.import_module(module)
    except Exception as e:  # the code that needs it meets it again and reports it
        _logger.debug("importing %s ahead: %s", module, e)


def _yield_the_cpu() -> None:
    """Lower the calling thread's CPU priority (Linux, where a thread has a nice value of its
    own) when the machine has cores to spare: importing ahead must not slow what the body
    waits on. A local Ray's start is half a dozen processes starting at once; importing
    beside it at the same priority made it 0.3-0.4 s slower on 2 cores, at 10 nicer
    0.05-0.1 s.

    A machine already busy (a load average of a process per core or more) keeps the thread's
    priority: other processes would starve it there, and the body's end would wait on it
    (on 2 cores kept busy, 1.3-2 s more at nice 10, up to 30 s at nice 19). A priority
    lowered cannot be raised again without privileges, and threads the calling thread starts
    inherit it."""
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    try:  # a sandbox may hide the load or refuse the change: the imports run as they would
        if os.getloadavg()[0] >= len(os.sched_getaffinity(0)):
            return
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + _IMPORT_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, min(niceness, _NICEST))
    except OSError as e:
        _logger.debug("lowering the import thread's priority: %s", e)


def embedded_address(storage: str) -> str:
    """Start (once per process and database) an in-process coordinator; return its address."""
    from hpo.server import Coordinator

    with _lock:
        coordinator = _coordinators.get(storage)
        if coordinator is None:
            coordinator = Coordinator(storage, host="127.0.0.1", port=0, reap_interval=2.0)
            coordinator.start()
            _coordinators[storage] = coordinator
        return coordinator.address


@atexit.register
def _stop_all() -> None:
    with _lock:
        for coordinator in _coordinators.values():
            coordinator.stop(grace=1.0)
        _coordinators.clear()
