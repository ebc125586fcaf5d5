"""What went wrong with a call to AWS, in words a user can act on.

Exceptions are sorted into a few kinds; ``chatbot.i18n`` holds each kind's Korean and
English text. Only the kind and the error code are ever logged or shown: messages from AWS
can echo request details, and credentials must never reach a log or the page.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    EventStreamError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)


class Problem(StrEnum):
    NO_CREDENTIALS = "no_credentials"
    EXPIRED_CREDENTIALS = "expired_credentials"
    NO_REGION = "no_region"
    WRONG_REGION = "wrong_region"
    MODEL_NOT_ENABLED = "model_not_enabled"
    ACCESS_DENIED = "access_denied"
    MODEL_NOT_FOUND = "model_not_found"
    MODEL_INVALID = "model_invalid"
    THROTTLED = "throttled"
    UNAVAILABLE = "unavailable"
    UNREACHABLE = "unreachable"
    STREAM_FAILED = "stream_failed"
    UNEXPECTED = "unexpected"


_BY_CODE = {
    "AccessDeniedException": Problem.ACCESS_DENIED,
    "ResourceNotFoundException": Problem.MODEL_NOT_FOUND,
    "ValidationException": Problem.MODEL_INVALID,
    "ThrottlingException": Problem.THROTTLED,
    "ServiceQuotaExceededException": Problem.THROTTLED,
    "TooManyRequestsException": Problem.THROTTLED,
    "ExpiredTokenException": Problem.EXPIRED_CREDENTIALS,
    "ExpiredToken": Problem.EXPIRED_CREDENTIALS,
    "UnrecognizedClientException": Problem.EXPIRED_CREDENTIALS,
    "InvalidSignatureException": Problem.EXPIRED_CREDENTIALS,
    "InternalServerException": Problem.UNAVAILABLE,
    "ServiceUnavailableException": Problem.UNAVAILABLE,
    "ModelNotReadyException": Problem.UNAVAILABLE,
    "ModelTimeoutException": Problem.UNAVAILABLE,
    "ModelErrorException": Problem.UNAVAILABLE,
}


def classify(error: BaseException, region: str | None = None) -> Problem:
    """The kind of an exception raised while calling Bedrock in ``region``."""
    if isinstance(error, EventStreamError):
        return Problem.STREAM_FAILED
    if isinstance(error, ClientError):
        problem = _BY_CODE.get(error_code(error), Problem.UNEXPECTED)
        message = str(error.response.get("Error", {}).get("Message", ""))
        # Bedrock says this when the model's access was never enabled, not for IAM denials.
        if problem == Problem.ACCESS_DENIED and "access to the model" in message:
            return Problem.MODEL_NOT_ENABLED
        return problem
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return Problem.NO_CREDENTIALS
    if isinstance(error, CredentialRetrievalError):
        return Problem.EXPIRED_CREDENTIALS
    if isinstance(error, NoRegionError):
        return Problem.NO_REGION
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        if region and region not in _bedrock_regions():
            return Problem.WRONG_REGION
        return Problem.UNREACHABLE
    if isinstance(error, BotoCoreError):
        return Problem.UNAVAILABLE
    return Problem.UNEXPECTED


@cache
def _bedrock_regions() -> frozenset[str]:
    """Regions botocore's bundled data lists for Bedrock (its runtime has no such list)."""
    import boto3  # not with this module: botocore's exceptions alone are light

    session = boto3.session.Session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("bedrock", partition)
    )


def error_code(error: BaseException) -> str:
    """AWS's error code, or the exception's class name (and its cause's): safe to log."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    if error.__cause__ is not None:
        return f"{type(error).__name__} <- {error_code(error.__cause__)}"
    return type(error).__name__
