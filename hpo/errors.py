"""hpo's exceptions: one root, one class per way a call can fail.

The tree, with the gRPC status code each class travels as::

    HpoError                        (root; never raised itself)
    ├── InvalidArgumentError        INVALID_ARGUMENT     bad field; message names it
    ├── NotFoundError               NOT_FOUND            unknown study or trial
    │   ├── StudyNotFoundError
    │   └── TrialNotFoundError
    ├── AlreadyExistsError          ALREADY_EXISTS       study name taken
    ├── FailedPreconditionError     FAILED_PRECONDITION  right request, wrong moment
    │   ├── TrialFinishedError                           trial already finished
    │   └── BudgetSpentError                             study's trial budget reached (SDK)
    ├── UnavailableError            UNAVAILABLE          database/coordinator unreachable; retry
    ├── UnauthenticatedError        UNAUTHENTICATED
    ├── PermissionDeniedError       PERMISSION_DENIED
    ├── ResourceExhaustedError      RESOURCE_EXHAUSTED
    ├── DeadlineExceededError       DEADLINE_EXCEEDED    client-side only
    ├── IntegrityError              DATA_LOSS            stored bytes do not match their digest
    └── InternalError               INTERNAL             a bug in hpo, never the client's input

This module is the one table between errors and status codes: the server's error
interceptor reads ``HpoError.code`` and the SDK turns a status code back into a class with
:func:`error_for_code`. Nothing here imports grpc; codes are the ``grpc.StatusCode`` names.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "BudgetSpentError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "HpoError",
    "IntegrityError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "StudyNotFoundError",
    "TrialFinishedError",
    "TrialNotFoundError",
    "UnauthenticatedError",
    "UnavailableError",
    "error_for_code",
]


class HpoError(Exception):
    """Root of every error hpo raises.

    Attributes:
        code: the ``grpc.StatusCode`` name this error travels as.
        retryable: whether repeating the same call later may succeed.
    """

    code = "UNKNOWN"
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgumentError(HpoError, ValueError):
    """A request field is missing, malformed or out of range; the message names the field.

    Also a ``ValueError``, so code written for Optuna that catches ``ValueError`` still works.
    """

    code = "INVALID_ARGUMENT"
    #: The offending field and what is wrong with it, when raised in this process with
    #: :meth:`for_field` (so the CLI can name its own option); empty for errors received.
    field = ""
    problem = ""

    @classmethod
    def for_field(cls, field: str, problem: str) -> InvalidArgumentError:
        """An error whose message starts with the offending field's name."""
        error = cls(f"{field}: {problem}")
        error.field, error.problem = field, problem
        return error


class NotFoundError(HpoError):
    """The named study or trial does not exist."""

    code = "NOT_FOUND"


class StudyNotFoundError(NotFoundError):
    """No study has this name."""


class TrialNotFoundError(NotFoundError):
    """The study has no trial with this number."""


class AlreadyExistsError(HpoError):
    """A study with this name exists already."""

    code = "ALREADY_EXISTS"


class FailedPreconditionError(HpoError):
    """The request is well-formed but the target is in the wrong state for it."""

    code = "FAILED_PRECONDITION"


class TrialFinishedError(FailedPreconditionError):
    """The trial is COMPLETE, PRUNED or FAILED and can no longer change."""


class BudgetSpentError(FailedPreconditionError):
    """The study's trial budget is reached: no more trials will be handed out (SDK only)."""


class UnavailableError(HpoError):
    """The coordinator or its database cannot be reached right now; retry with backoff."""

    code = "UNAVAILABLE"
    retryable = True


class UnauthenticatedError(HpoError):
    """No credentials, or wrong ones."""

    code = "UNAUTHENTICATED"


class PermissionDeniedError(HpoError):
    """The caller's principal may not do this."""

    code = "PERMISSION_DENIED"


class ResourceExhaustedError(HpoError):
    """A size or rate limit was exceeded."""

    code = "RESOURCE_EXHAUSTED"
    retryable = True


class DeadlineExceededError(HpoError):
    """The call did not finish before its deadline."""

    code = "DEADLINE_EXCEEDED"
    retryable = True


class IntegrityError(HpoError):
    """An artifact's bytes do not hash to its recorded digest: never a silently wrong model."""

    code = "DATA_LOSS"


class InternalError(HpoError):
    """A fault inside hpo; the message carries no internals."""

    code = "INTERNAL"


_BY_CODE: dict[str, type[HpoError]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        FailedPreconditionError,
        UnavailableError,
        UnauthenticatedError,
        PermissionDeniedError,
        ResourceExhaustedError,
        DeadlineExceededError,
        IntegrityError,
        InternalError,
    )
}


def error_for_code(code: str, message: str) -> HpoError:
    """The exception for a status code name received from the coordinator."""
    return _BY_CODE.get(code, InternalError)(message)
