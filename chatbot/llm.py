"""Builds the Bedrock clients and the chat model."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from langchain_aws import ChatBedrockConverse

from chatbot import aws

# The original's Claude parameters. top_p is left out: current Claude models reject a
# request that sets both temperature and top_p.
MAX_TOKENS = 1024
TEMPERATURE = 0.1
TOP_K = 250


def _retries() -> dict[str, Any]:
    """Adaptive mode backs off on throttling with a client-side rate limiter. Four attempts
    keep a user's wait bounded; boto3's own variables still win, as they would without us."""
    return {
        "mode": os.environ.get("AWS_RETRY_MODE", "adaptive"),
        "total_max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS", "4")),
    }


def _client(service: str, region: str | None) -> Any:
    """The region from ``aws.region`` (``region``, ``AWS_REGION``, boto3's chain); endpoint and
    credentials from boto3's chain. Raises botocore's NoRegionError when there is no region."""
    config = Config(
        retries=_retries(),
        connect_timeout=5,
        read_timeout=120,
        user_agent_extra=aws.USER_AGENT,
    )
    return boto3.session.Session().client(service, region_name=aws.region(region), config=config)


def bedrock_runtime_client(region: str | None = None) -> Any:
    return _client("bedrock-runtime", region)


def list_models(region: str | None = None) -> list[dict[str, Any]]:
    """The Anthropic text models Bedrock offers in ``region`` (the original's "list models").

    Newer models answer on demand only through an inference profile (``global.``/``us.``
    prefixed ids), which the sidebar offers; this list says what the region has.
    """
    response = _client("bedrock", region).list_foundation_models(
        byProvider="Anthropic", byOutputModality="TEXT"
    )
    return [
        {
            "model_id": summary["modelId"],
            "name": summary.get("modelName", ""),
            "streaming": summary.get("responseStreamingSupported", False),
            "status": summary.get("modelLifecycle", {}).get("status", ""),
        }
        for summary in response.get("modelSummaries", [])
    ]


def chat_model(client: Any, model_id: str) -> ChatBedrockConverse:
    return ChatBedrockConverse(
        client=client,
        model=model_id,
        max_tokens=MAX_TOKENS,
        temperature=TEMPERATURE,
        additional_model_request_fields={"top_k": TOP_K},
    )
