"""Builds the Bedrock clients and the chat model.

boto3 and langchain_aws are imported when a client or a model is first built, not with this
module: the chat page's first run, which draws its input, needs neither (0.05 s and 0.5 s of
imports with LangChain's language models; ``chatbot.ui.resources.warm_up`` loads them after).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from chatbot import aws

if TYPE_CHECKING:
    from langchain_aws import ChatBedrockConverse

# The original's Claude parameters (its max_tokens is now CHAT_MAX_OUTPUT_TOKENS). top_p is
# left out: current Claude models reject a request that sets both temperature and top_p.
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
    import boto3
    from botocore.config import Config

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


def chat_model(client: Any, model_id: str, max_tokens: int) -> ChatBedrockConverse:
    from langchain_aws import ChatBedrockConverse

    return ChatBedrockConverse(
        client=client,
        model=model_id,
        max_tokens=max_tokens,
        temperature=TEMPERATURE,
        additional_model_request_fields={"top_k": TOP_K},
    )
