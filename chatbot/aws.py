"""What every AWS client of the app and its commands shares: the region and the user agents.

boto3 reads only ``AWS_DEFAULT_REGION`` (or a profile's ``region``) and ignores
``AWS_REGION``, the variable of the other AWS SDKs that many platforms set (Lambda, ECS,
CodeBuild). ``region()`` honours both, ``AWS_REGION`` first as in the SDKs' shared settings.
"""

from __future__ import annotations

import os

__all__ = ["ADMIN_USER_AGENT", "USER_AGENT", "region"]

# Appended to each request's User-Agent: the loopback servers tell the app's calls from the
# create-table command's by it, to check each against its own IAM policy.
USER_AGENT = "bedrock-stream-chatbot"
ADMIN_USER_AGENT = "bedrock-stream-chatbot-admin"


def region(explicit: str | None = None) -> str | None:
    """``explicit``, else ``AWS_REGION``, else boto3's chain (``AWS_DEFAULT_REGION``, then the
    profile's region); None when none is set, and building a client then raises NoRegionError.
    """
    import boto3  # not with this module: the chat page draws its input without boto3 (0.05 s)

    return explicit or os.environ.get("AWS_REGION") or boto3.session.Session().region_name
