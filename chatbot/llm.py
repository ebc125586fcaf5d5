"""Builds the Bedrock clients and the chat model."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from langchain_aws import ChatBedrockConverse

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


def bedrock_runtime_client(region: str | None = None) -> Any:
    """A ``bedrock-runtime`` client; raises botocore's NoRegionError without a region.

    The endpoint, region and credentials come from boto3's standard chain.
    """
    config = Config(
        retries=_retries(),
        connect_timeout=5,
        read_timeout=120,
        user_agent_extra="bedrock-stream-chatbot",
    )
    return boto3.session.Session().client("bedrock-runtime", region_name=region, config=config)


def chat_model(client: Any, model_id: str) -> ChatBedrockConverse:
    return ChatBedrockConverse(
        client=client,
        model_id=model_id,
        max_tokens=MAX_TOKENS,
        temperature=TEMPERATURE,
        additional_model_request_fields={"top_k": TOP_K},
    )
